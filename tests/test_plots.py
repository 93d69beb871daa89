"""Pictures: the digit grid puts each digit, and its label, in its own cell, at the shape the
classifier reads it."""
import numpy as np

from braingan import plots


def test_digit_grid_tiles_each_digit_in_reading_order_under_asked_and_read_labels():
    rng = np.random.default_rng(0)
    images = rng.random((7, 5, 4))  # not square: rows and columns cannot be swapped unseen
    read, asked = [1, 2, 3, 4, 5, 6, 7], [1, 2, 0, 4, 9, 6, 7]
    fig = plots.digit_grid(images, "seven", read=read, asked=asked, ncol=3)
    (ax,) = fig.axes
    mosaic = np.ma.filled(ax.images[0].get_array(), np.nan)
    top, cell_h, cell_w = 9, 5 + 9 + 2, 4 + 2
    assert mosaic.shape == (3 * cell_h, 3 * cell_w)
    for i in range(7):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(mosaic[r * cell_h + top + 1: r * cell_h + top + 6, c * cell_w + 1: c * cell_w + 5],
                                      images[i])
    assert np.isnan(mosaic[2 * cell_h:, cell_w:]).all()  # cells 8 and 9 stay empty
    assert np.isfinite(mosaic).sum() == images.size  # nothing but the digits is drawn
    assert ax.get_aspect() == 1.0  # square pixels: a digit is drawn as the classifier reads it, not stretched
    assert [t.get_text() for t in ax.texts] == ["1>1", "2>2", "0>3", "4>4", "9>5", "6>6", "7>7"]
    assert [t.get_color() for t in ax.texts][1:3] == ["tab:green", "tab:red"]  # asked 0, read 3: a miss
    assert [t.get_position() for t in ax.texts][4] == (cell_w + cell_w / 2, cell_h + top - 0.5)  # row 1, column 1
    assert fig.texts[0].get_text() == "seven"
    assert [t.get_text() for t in plots.digit_grid(images, read=read).axes[0].texts] == [str(k) for k in read]
    assert not plots.digit_grid(images[:0]).axes[0].texts  # no digits: an empty grid, no error
