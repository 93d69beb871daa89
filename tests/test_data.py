"""Data: SMILES reading and cleaning, encoding round trips, the canvas and its inverse."""
import gzip
import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from braingan.config import MnistSource, SmilesSource
from braingan.data import canvas as cv
from braingan.data.smiles import PAD, Vocab, clean, tokenize
from braingan.data.sources import STAHL_SHA256, load_mnist, load_smiles, read_idx, read_smiles_file
from braingan.fsutil import DataError, download


# ------------------------------------------------------------------ encoding
@pytest.mark.parametrize("halogens", [True, False])
def test_one_hot_round_trip(halogens):
    smiles = ["CCO", "c1ccccc1Cl", "BrC(Br)Br", "O=[N+]([O-])c1ccc(Cl)cc1", "C"]
    vocab = Vocab.build(smiles, halogens)
    assert PAD in vocab.symbols and vocab.symbols == sorted(vocab.symbols)
    assert ("Cl" in vocab.symbols) == halogens
    onehot = vocab.one_hot(vocab.encode(smiles, 30))
    assert onehot.shape == (5, 30, len(vocab)) and np.all(onehot.sum(-1) == 1)
    assert vocab.decode(onehot) == smiles


def test_encode_rejects_unknown_symbols_and_overlong_strings():
    vocab = Vocab.build(["CCO"], True)
    with pytest.raises(KeyError, match="symbol 'N'"):
        vocab.encode(["CCN"], 10)
    with pytest.raises(ValueError, match="has 3 symbols; the canvas holds 2"):
        vocab.encode(["CCO"], 2)


def test_halogen_tokens():
    assert tokenize("ClCBr", True) == ["Cl", "C", "Br"]
    assert tokenize("ClCBr", False) == list("ClCBr")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="CNOScl()=#123[]+-Br", min_size=1, max_size=20), min_size=1, max_size=8))
def test_encode_decode_round_trip_fuzz(strings):
    vocab = Vocab.build(strings, True)
    assert vocab.decode(vocab.encode(strings, 25)) == strings


# ------------------------------------------------------------------ canvas
def test_pad_canvas_inverse_is_exact():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    c = cv.to_canvas(x, (64, 40), "pad")
    assert c.shape == (5, 64, 40) and c[:, 28:].max() == 0 and c[:, :, 28:].max() == 0
    np.testing.assert_array_equal(cv.from_canvas(c, "pad"), x.astype(np.float32) / 255)


def test_resize_canvas_inverse_round_trip():
    # a smooth image survives resize to the canvas and back nearly unchanged
    yy, xx = np.mgrid[0:28, 0:28]
    img = (255 * np.exp(-((yy - 14) ** 2 + (xx - 12) ** 2) / 40.0))[None].astype(np.float32)
    c = cv.to_canvas(img, (72, 47), "resize")
    assert c.shape == (1, 72, 47)
    back = cv.from_canvas(c, "resize")
    assert back.shape == (1, 28, 28)
    assert np.abs(back - img / 255).max() < 0.03


def test_canvas_shape_rounds_to_multiple_of_four_and_pad_needs_room():
    assert cv.canvas_shape(105, 11, 25) == (116, 25)
    assert cv.canvas_shape(50, 11, 30) == (64, 30)
    with pytest.raises(ValueError, match="needs a canvas of at least 28x28, but it is 116x25"):
        cv.check_mode("pad", (116, 25))


# ------------------------------------------------------------------ cleaning (the seed's Stahl set)
def test_stahl_cleaning_counts(stahl_csv):
    read = read_smiles_file(stahl_csv, "SMILES")
    assert len(read.smiles) == 335
    kept, rep = clean(read.smiles, "drop", canonical=False, max_len=0, dedupe=False, halogen_tokens=False)
    assert (rep.sanitised_as_written, rep.dropped_invalid, rep.kept) == (300, 35, 300)
    kept, rep = clean(read.smiles, "repair", canonical=False, max_len=0, dedupe=False, halogen_tokens=False)
    # every one of the 35 hypervalent nitrogens is repaired by putting the charge back
    assert (rep.sanitised_as_written, rep.repaired, rep.dropped_invalid, rep.kept) == (300, 35, 0, 335)


def test_cleaning_counts_each_step():
    smiles = ["CCO", "OCC", "C1CC", "CCCCCCCCCCCC", "c1ccccc1"]
    kept, rep = clean(smiles, "drop", canonical=True, max_len=10, dedupe=True, halogen_tokens=True)
    assert kept == ["CCO", "c1ccccc1"]
    assert (rep.read, rep.dropped_invalid, rep.dropped_too_long, rep.dropped_duplicate) == (5, 1, 1, 1)


def test_pad_symbol_in_data_is_an_error():
    with pytest.raises(ValueError, match=r"pad symbol '\|' occurs in 1 SMILES \(first: entry 2"):
        clean(["CC", "C|C"], "drop", True, 0, True, True)


# ------------------------------------------------------------------ reading files
def test_read_smi_and_csv(tmp_path):
    (tmp_path / "a.smi").write_text("CCO 1\n\nc1ccccc1\tbenzene\n")
    assert read_smiles_file(tmp_path / "a.smi").smiles == ["CCO", "c1ccccc1"]
    (tmp_path / "b.csv").write_text("name,smi\nx,CCO\ny,\nz,CCN\n")
    r = read_smiles_file(tmp_path / "b.csv", "smi")
    assert r.smiles == ["CCO", "CCN"] and r.blank == 1


@pytest.mark.parametrize("name, content, message", [
    ("empty.smi", b"", "holds no SMILES (empty file)"),
    ("blank.smi", b"\n\n  \n", "holds no SMILES (empty file)"),
    ("nocol.csv", b"name,smi\nx,CCO\n", "no column 'SMILES' (fetch.smiles.column); columns are: name, smi"),
    ("data.xlsx", b"CCO\n", "unknown file type '.xlsx'"),
    ("onlybad.smi", b"\xff\xfe\n", "holds no SMILES"),
])
def test_bad_smiles_files(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_smiles_file(tmp_path / name, "SMILES")


def test_undecodable_lines_are_counted_not_fatal(tmp_path):
    (tmp_path / "x.smi").write_bytes(b"CCO\n\xff\xfeC\nCCN\n")
    r = read_smiles_file(tmp_path / "x.smi")
    assert r.smiles == ["CCO", "CCN"] and r.undecodable == 1


def test_missing_paths_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="fetch.smiles.path: .*does not exist"):
        load_smiles(SmilesSource(source="path", path=str(tmp_path / "none.smi")))
    with pytest.raises(DataError, match="fetch.mnist.path: .*does not exist"):
        load_mnist(MnistSource(source="path", path=str(tmp_path / "none.npz")))


def test_stahl_local_mirror_is_verified_and_never_downloads(tmp_path, stahl_csv, monkeypatch):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network touched"))
    assert len(load_smiles(SmilesSource(source="stahl", path=str(stahl_csv))).smiles) == 335
    bad = tmp_path / "stahl.csv"
    bad.write_bytes(stahl_csv.read_bytes() + b"C,0,0,0,0,0,0,0\n")
    with pytest.raises(DataError, match=f"expected the Stahl set's {STAHL_SHA256}"):
        load_smiles(SmilesSource(source="stahl", path=str(bad)))


# ------------------------------------------------------------------ downloads (local files, no network)
def test_download_verifies_checksum_atomically_and_caches(tmp_path):
    src = tmp_path / "src.csv"
    src.write_text("SMILES\nCCO\n")
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / "x.csv"
    with pytest.raises(DataError, match="sha256 mismatch"):
        download(src.as_uri(), dest, "0" * 64)
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # nothing half-written left
    assert download(src.as_uri(), dest, good) == dest
    src.unlink()  # cached: a second call needs no source at all
    assert download(src.as_uri(), dest, good).read_text() == "SMILES\nCCO\n"


def test_download_refuses_plain_http_and_missing_checksum(tmp_path):
    with pytest.raises(DataError, match="only https://"):
        download("http://example.com/x.csv", tmp_path / "x", "0" * 64)
    with pytest.raises(DataError, match="without a checksum"):
        download("https://example.com/x.csv", tmp_path / "x", "")


def test_unreachable_download_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with pytest.raises(DataError, match="could not download .*No network"):
        download("https://example.invalid/x.csv", tmp_path / "x", "0" * 64, timeout=5)
    assert not (tmp_path / "x").exists()


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes())


def test_mnist_idx_folder_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (7, 28, 28)), rng.integers(0, 10, 7)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(_idx(x))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(_idx(y))
    got_x, got_y, _ = load_mnist(MnistSource(source="path", path=str(tmp_path)))
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    np.savez(tmp_path / "m.npz", x=x.reshape(7, 784), y=y)
    got_x, _, _ = load_mnist(MnistSource(source="path", path=str(tmp_path / "m.npz")))
    np.testing.assert_array_equal(got_x, x)
    (tmp_path / "bad.idx").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "bad.idx")
