"""Data: SMILES reading and cleaning, encoding round trips, the canvas and its inverse."""
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdkit import Chem

from braingan.config import MnistSource, SmilesSource
from braingan.data import canvas as cv
from braingan.data import encodings
from braingan.data.smiles import PAD, CleanReport, Vocab, clean, repair, symbol_counts
from braingan.data.sources import STAHL_SHA256, load_mnist, load_smiles, read_idx, read_smiles_file
from braingan.errors import DataError
from braingan.fsutil import download


# ------------------------------------------------------------------ encodings
ENCODING_CASES = [("smiles", "chars"), ("smiles", "atoms"), ("deepsmiles", "chars"), ("deepsmiles", "atoms"),
                  ("selfies", "atoms")]


@pytest.fixture(scope="module")
def default_molecules():
    """The default data's training molecules: RDKit's NCI set, cleaned as the default params do."""
    from rdkit import Chem, RDConfig

    from braingan.data.sources import read_smiles_file

    raw = read_smiles_file(Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi").smiles
    kept, _, _ = clean(raw, encodings.get("smiles", "chars"), "repair", True, 60, True)
    return kept, {s: Chem.CanonSmiles(s) for s in kept}


@pytest.mark.parametrize("encoding, tokens", ENCODING_CASES)
def test_every_default_molecule_round_trips_through_each_encoding_and_the_canvas(default_molecules, encoding, tokens):
    smiles, canon = default_molecules
    enc = encodings.get(encoding, tokens)
    kept, toks, rep = clean(smiles, enc, "repair", True, 0, True)
    assert rep.kept == len(kept) and rep.dropped_unrepresentable == len(smiles) - len(kept)
    vocab = Vocab.build(toks, enc)
    L = max(map(len, toks)) + 3
    decoded = vocab.decode(vocab.encode(toks, L))
    bad = [(s, d) for s, d in zip(kept, decoded) if d is None or Chem.CanonSmiles(d) != canon[s]]
    print(f"{encoding}/{tokens}: {len(kept)} of {len(smiles)} kept, vocabulary {len(vocab)}, longest {L - 3}")
    assert not bad, bad[:3]
    assert len(kept) >= 0.99 * len(smiles)


def test_random_selfies_symbol_strings_decode_to_valid_molecules():
    from braingan.metrics.smiles import validity

    enc = encodings.get("selfies", "atoms")
    symbols = sorted({t for s in ["CCO", "c1ccccc1Cl", "O=[N+]([O-])c1ccc(Br)cc1", "C1CC1N", "CC(=O)Nc1ccccc1"]
                      for t in enc.encode(s)})
    rng = np.random.default_rng(0)
    strings = [list(rng.choice(symbols, rng.integers(1, 30))) for _ in range(300)]
    decoded = [enc.decode(t) for t in strings]
    # only strings of nothing but branch/ring symbols decode to "" (no molecule, invalid)
    with_atom = [d for t, d in zip(strings, decoded) if any("Branch" not in x and "Ring" not in x for x in t)]
    assert validity(with_atom) == 1.0 and len(with_atom) > 280
    assert all(d == "" for t, d in zip(strings, decoded) if all("Branch" in x or "Ring" in x for x in t))


def test_atom_tokens_keep_bracket_atoms_halogens_and_two_digit_rings_whole():
    assert encodings.atoms("c1cc[nH]c1[C@@H](Cl)C%12Br[N+](=O)[O-]") == [
        "c", "1", "c", "c", "[nH]", "c", "1", "[C@@H]", "(", "Cl", ")", "C", "%12", "Br", "[N+]", "(", "=", "O", ")",
        "[O-]"]
    assert encodings.chars("ClC") == ["C", "l", "C"]
    with pytest.raises(encodings.EncodingError, match="outside the atom-level SMILES alphabet"):
        encodings.atoms("C{C}")


def test_deepsmiles_writes_rings_as_sizes_and_selfies_as_symbols():
    assert encodings.get("deepsmiles", "chars").encode("c1ccccc1") == list("cccccc6")
    assert encodings.get("selfies", "chars").encode("C=O") == ["[C]", "[=O]"]
    assert encodings.get("deepsmiles", "atoms").decode(list("cccccc6")) == "c1ccccc1"
    assert encodings.get("deepsmiles", "atoms").decode(list("C))")) is None  # too many closing branches


def test_a_molecule_an_encoding_cannot_write_is_dropped_and_counted_with_its_reason():
    kept, toks, rep = clean(["CCO", "C[Se]C", "C{C}"], encodings.get("smiles", "atoms"), "drop", False, 0, True)
    assert kept == ["CCO", "C[Se]C"] and rep.dropped_invalid == 1
    kept, toks, rep = clean(["CCO", "[C@@H]1CC1*"], encodings.get("selfies", "atoms"), "drop", False, 0, True)
    assert kept == ["CCO"] and rep.dropped_unrepresentable == 1
    assert rep.examples_dropped[0].startswith("unrepresentable in selfies")


def test_one_hot_round_trip_and_decoding_of_pad_rows():
    enc = encodings.get("smiles", "atoms")
    toks = [enc.encode(s) for s in ["CCO", "c1ccccc1Cl", "BrC(Br)Br", "O=[N+]([O-])c1ccc(Cl)cc1", "C"]]
    vocab = Vocab.build(toks, enc)
    assert PAD in vocab.symbols and vocab.symbols == sorted(vocab.symbols) and "Cl" in vocab.symbols
    onehot = vocab.one_hot(vocab.encode(toks, 30))
    assert onehot.shape == (5, 30, len(vocab)) and np.all(onehot.sum(-1) == 1)
    assert vocab.decode(onehot.argmax(-1)) == ["CCO", "c1ccccc1Cl", "BrC(Br)Br", "O=[N+]([O-])c1ccc(Cl)cc1", "C"]
    c, o, pad = vocab.index["C"], vocab.index["O"], vocab.pad
    rows = np.array([[c, c, o, pad, pad], [c, pad, c, pad, pad], [pad] * 5, [pad, c, pad, pad, pad], [c] * 5])
    assert vocab.tokens(rows) == [["C", "C", "O"], None, [], None, ["C"] * 5]  # an inner pad is no string
    assert vocab.decode(rows) == ["CCO", None, "", None, "CCCCC"]
    assert vocab.raw(rows[1:2]) == ["C|C||"]


def test_encode_rejects_unknown_symbols_and_overlong_strings():
    enc = encodings.get("smiles", "atoms")
    vocab = Vocab.build([enc.encode("CCO")], enc)
    with pytest.raises(KeyError, match="symbol 'N'"):
        vocab.encode([enc.encode("CCN")], 10)
    with pytest.raises(ValueError, match="has 3 symbols; the canvas holds 2"):
        vocab.encode([enc.encode("CCO")], 2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="CNOScl()=#123[]+-Br", min_size=1, max_size=20), min_size=1, max_size=8))
def test_encode_decode_round_trip_fuzz(strings):
    enc = encodings.get("smiles", "chars")
    toks = [enc.encode(s) for s in strings]
    vocab = Vocab.build(toks, enc)
    assert vocab.decode(vocab.encode(toks, 25)) == strings


# ------------------------------------------------------------------ canvas
def test_pad_canvas_inverse_is_exact():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    c = cv.to_canvas(x, (64, 40), "pad")
    assert c.shape == (5, 64, 40) and c[:, 28:].max() == 0 and c[:, :, 28:].max() == 0
    np.testing.assert_array_equal(cv.from_canvas(c, "pad"), x.astype(np.float32) / 255)


def test_resize_canvas_round_trip_keeps_smooth_images_and_blurs_sharp_ones():
    # resize mode's way back is no exact inverse: smooth images survive it, sharp strokes do not,
    # which is why every real reference digit set takes the same round trip (cv.round_trip)
    yy, xx = np.mgrid[0:28, 0:28]
    smooth = (255 * np.exp(-((yy - 14) ** 2 + (xx - 12) ** 2) / 40.0))[None].astype(np.float32)
    c = cv.to_canvas(smooth, (72, 47), "resize")
    assert c.shape == (1, 72, 47)
    back = cv.from_canvas(c, "resize")
    assert back.shape == (1, 28, 28) and np.abs(back - smooth / 255).max() < 0.03
    sharp = np.zeros((1, 28, 28), dtype=np.uint8)
    sharp[0, 10:18, 13] = 255  # a one-pixel stroke
    err = np.abs(cv.round_trip(sharp, (72, 47), "resize") - sharp / 255.0).max()
    assert 0.1 < err < 0.9
    np.testing.assert_array_equal(cv.round_trip(sharp, (64, 40), "pad"), sharp / np.float32(255))


def test_canvas_shape_rounds_to_multiple_of_four_and_pad_needs_room():
    assert cv.canvas_shape(105, 11, 25) == (116, 25)
    assert cv.canvas_shape(50, 11, 30) == (64, 30)
    assert cv.canvas_shape(60, 4, 9) == (64, 9)  # already a multiple of 4
    with pytest.raises(ValueError, match="needs a canvas of at least 28x28, but it is 116x25"):
        cv.check_mode("pad", (116, 25))
    with pytest.raises(ValueError, match="but it is 27x40"):
        cv.check_mode("pad", (27, 40))
    cv.check_mode("pad", (28, 28))  # exactly room for one digit
    cv.check_mode("resize", (8, 3))


def test_the_way_back_from_the_canvas_clips_to_0_1_and_never_hands_out_the_callers_array():
    c = np.full((2, 40, 30), 1.5, dtype=np.float32)
    c[1] = -0.5
    back = cv.from_canvas(c, "resize")
    assert back.shape == (2, 28, 28) and back[0].min() == 1.0 and back[1].max() == 0.0
    same = np.random.default_rng(0).random((1, 28, 28)).astype(np.float32)
    for mode in ("pad", "resize"):
        out = cv.from_canvas(same, mode)
        np.testing.assert_array_equal(out, same)
        out[:] = 0
        assert same.max() > 0  # the caller's array is untouched


# ------------------------------------------------------------------ cleaning (the seed's Stahl set)
def test_repair_puts_back_the_charge_of_hypervalent_nitrogens_and_touches_nothing_else():
    smi = lambda mol: Chem.MolToSmiles(mol) if mol is not None else None  # noqa: E731
    assert Chem.MolFromSmiles("CC[N](C)(C)C") is None  # what modern RDKit refuses
    assert smi(repair("CC[N](C)(C)C")) == Chem.CanonSmiles("CC[N+](C)(C)C")  # 4 bonds: N+ (an atom before it)
    assert smi(repair("C=[NH2]")) == Chem.CanonSmiles("C=[NH2+]")  # 4 with the hydrogens
    assert smi(repair("C[N](=O)=O")) == Chem.CanonSmiles("C[N+](=O)[O-]")  # nitro: RDKit charge-separates it
    assert smi(repair("c1ccccc1[N+](=O)[O-]")) == Chem.CanonSmiles("c1ccccc1[N+](=O)[O-]")  # charged: as written
    assert smi(repair("CC(C)(C)O")) == Chem.CanonSmiles("CC(C)(C)O")  # no nitrogen: as written
    assert repair("C1CC") is None and repair("C[N](C)(C)(C)(C)C") is None  # unclosed ring; six bonds: no repair


def test_clean_report_counts_leave_the_examples_out_and_symbols_are_counted_over_all_strings():
    rep = CleanReport(read=3, kept=2, examples_dropped=["invalid: C1CC"])
    assert rep.counts() == {"read": 3, "sanitised_as_written": 0, "repaired": 0, "dropped_invalid": 0,
                            "dropped_unrepresentable": 0, "dropped_too_long": 0, "dropped_duplicate": 0, "kept": 2}
    assert symbol_counts([["C", "O"], ["C"], []]) == {"C": 2, "O": 1}


def test_stahl_cleaning_counts(stahl_csv):
    read = read_smiles_file(stahl_csv, "SMILES")
    assert len(read.smiles) == 335
    chars = encodings.get("smiles", "chars")
    kept, _, rep = clean(read.smiles, chars, "drop", canonical=False, max_len=0, dedupe=False)
    assert (rep.sanitised_as_written, rep.dropped_invalid, rep.kept) == (300, 35, 300)
    kept, _, rep = clean(read.smiles, chars, "repair", canonical=False, max_len=0, dedupe=False)
    # every one of the 35 hypervalent nitrogens is repaired by putting the charge back
    assert (rep.sanitised_as_written, rep.repaired, rep.dropped_invalid, rep.kept) == (300, 35, 0, 335)


def test_cleaning_counts_each_step():
    smiles = ["CCO", "OCC", "C1CC", "CCCCCCCCCCCC", "c1ccccc1", "C" * 100]
    kept, toks, rep = clean(smiles, encodings.get("smiles", "atoms"), "drop", canonical=True, max_len=10, dedupe=True)
    assert kept == ["CCO", "c1ccccc1"] and toks == [["C", "C", "O"], list("c1ccccc1")]
    assert (rep.read, rep.dropped_invalid, rep.dropped_too_long, rep.dropped_duplicate) == (6, 1, 2, 1)


def test_cleaning_repairs_keeps_three_examples_per_reason_and_can_keep_strings_as_written():
    chars = encodings.get("smiles", "chars")
    bad = ["C1CC", "C(C", "C1CCC", "CC(", "N1CC"]  # five unparseable strings
    smiles = ["OCC", "CC[N](C)(C)C", *bad, "C" * 15, "CCO", "C" * 200]
    kept, toks, rep = clean(smiles, chars, "repair", canonical=True, max_len=14, dedupe=True)
    assert kept == ["CCO", "CC[N+](C)(C)C"] and toks[1] == list("CC[N+](C)(C)C")
    assert rep.counts() == {"read": 10, "sanitised_as_written": 3, "repaired": 1, "dropped_invalid": 5,
                            "dropped_unrepresentable": 0, "dropped_too_long": 2, "dropped_duplicate": 1, "kept": 2}
    assert rep.examples_dropped == ["invalid: C1CC", "invalid: C(C", "invalid: C1CCC", "too long: " + "C" * 15,
                                    "too long: " + "C" * 100]  # three per reason, each cut at 100 characters
    kept, _, rep = clean(smiles, chars, "drop", canonical=False, max_len=0, dedupe=False)
    assert kept == ["OCC", "C" * 15, "CCO", "C" * 200] and rep.dropped_invalid == 6  # as written, the N+ dropped
    with pytest.raises(ValueError, match=r"the pad symbol '\|' occurs in 1 SMILES \(first: entry 2, 'C\|C'\)"):
        clean(["CCO", "C|C"], chars, "drop", canonical=False, max_len=0, dedupe=False)


def test_an_overlong_line_is_dropped_before_rdkit_parses_it(monkeypatch):
    import braingan.data.smiles as smiles_mod

    parsed, parse = [], Chem.MolFromSmiles
    monkeypatch.setattr(smiles_mod.Chem, "MolFromSmiles", lambda s, **k: parsed.append(s) or parse(s, **k))
    kept, _, rep = clean(["CCO", "C" * 100_000], encodings.get("smiles", "atoms"), "drop", True, 60, True)
    assert kept == ["CCO"] and rep.dropped_too_long == 1 and parsed == ["CCO"]
    clean(["C" * 480], encodings.get("smiles", "atoms"), "drop", True, 60, True)  # 60 tokens x 8 characters: parsed
    assert parsed[1:] == ["C" * 480]


def test_pad_symbol_in_data_is_an_error():
    with pytest.raises(ValueError, match=r"pad symbol '\|' occurs in 1 SMILES \(first: entry 2"):
        clean(["CC", "C|C"], encodings.get("smiles", "chars"), "drop", True, 0, True)


# ------------------------------------------------------------------ reading files
def test_read_smi_and_csv(tmp_path):
    (tmp_path / "a.smi").write_text("CCO 1\n\nc1ccccc1\tbenzene\n")
    assert read_smiles_file(tmp_path / "a.smi").smiles == ["CCO", "c1ccccc1"]
    (tmp_path / "b.csv").write_text("name,smi\nx,CCO\ny,\nz,CCN\n")
    r = read_smiles_file(tmp_path / "b.csv", "smi")
    assert r.smiles == ["CCO", "CCN"] and r.blank == 1
    (tmp_path / "c.tsv").write_text("name\tsmi\nx,y\tCCO\n")  # a comma inside a tab-separated field
    assert read_smiles_file(tmp_path / "c.tsv", "smi").smiles == ["CCO"]
    (tmp_path / "d.CSV.gz").write_bytes(gzip.compress(b"smi\nCCN\n"))  # the suffix under .gz, in any case
    assert read_smiles_file(tmp_path / "d.CSV.gz", "smi").smiles == ["CCN"]


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
    (tmp_path / "header.idx").write_bytes(b"\x00\x00\x08\x01")  # the magic number, then nothing
    with pytest.raises(DataError, match="header gives 1 dimensions"):
        read_idx(tmp_path / "header.idx")
    (tmp_path / "short.idx").write_bytes(b"\x00\x00\x08")
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(tmp_path / "short.idx")


def test_download_verifies_with_the_given_algorithm_and_timeout(tmp_path, monkeypatch):
    import urllib.request

    src = tmp_path / "src.csv"
    src.write_text("SMILES\nCCO\n")
    md5 = hashlib.md5(src.read_bytes()).hexdigest()  # MNIST's IDX files are md5-verified
    seen = []
    real_urlopen = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: seen.append(timeout) or real_urlopen(url))
    dest = tmp_path / "cache" / "x.csv"
    assert download(src.as_uri(), dest, md5, algo="md5") == dest and seen == [30.0]
    assert download(src.as_uri(), dest, md5, algo="md5") == dest and seen == [30.0]  # cached, checked with md5


def test_a_failed_download_names_the_url_and_the_reason(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def refuse(url, timeout):
        raise urllib.error.URLError("connection refused by the mirror")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(DataError) as e:
        download("https://example.org/x.csv", tmp_path / "x", "0" * 64)
    assert str(e.value) == ("could not download https://example.org/x.csv: connection refused by the mirror. No network? "
                            "Point the source at a local copy instead (source: path, or a mirror path).")

    def time_out(url, timeout):
        raise TimeoutError("the read timed out")  # no .reason: the error itself is the reason

    monkeypatch.setattr(urllib.request, "urlopen", time_out)
    with pytest.raises(DataError, match="could not download https://example.org/x.csv: the read timed out. No network"):
        download("https://example.org/x.csv", tmp_path / "x", "0" * 64)


def test_deepsmiles_failures_become_an_encoding_error_naming_the_cause(monkeypatch):
    enc = encodings.get("deepsmiles", "chars")

    def fail(smiles):
        raise KeyError(smiles)

    monkeypatch.setattr(enc._conv, "encode", fail)
    with pytest.raises(encodings.EncodingError, match=r"^deepsmiles cannot encode it \(KeyError\)$"):
        enc.encode("CCO")


def test_selfies_failures_give_selfies_own_reason():
    # a carbon with five bonds breaks selfies' semantic constraints; the reason is its message's first line
    with pytest.raises(encodings.EncodingError,
                       match=r"^selfies cannot encode it \(input violates the currently-set semantic constraints\)$"):
        encodings.get("selfies", "atoms").encode("C(C)(C)(C)(C)C")


def test_cleaning_in_several_processes_gives_what_one_gives(monkeypatch):
    """A benchmark's million molecules are cleaned on every core: the kept strings, their
    tokens (in order), every count and the dropped examples are those of one process."""
    from braingan.data import smiles as sm

    data = (["CCO", "C1CC", "c1ccccc1", "CCO", "C" * 80, "CC(=O)O", "N[C@@H](C)C(=O)O", "xyz", "CCN"] * 5)
    enc = encodings.get("selfies", "atoms")
    one = clean(data, enc, "repair", True, 40, True, workers=1)
    monkeypatch.setattr(sm, "PARALLEL_FROM", 10)  # the parallel path on a small input
    two = clean(data, enc, "repair", True, 40, True, workers=2)
    assert one[0] == two[0] and one[1] == two[1]
    assert one[2].counts() == two[2].counts() and one[2].examples_dropped == two[2].examples_dropped
    # per copy of the list: CCO twice, c1ccccc1, CC(=O)O, the alanine, CCN keep (6); the first copy
    # repeats CCO once, the four later copies repeat all six
    assert one[2].counts()["dropped_duplicate"] == 1 + 4 * 6 and len(one[0]) == 5


@pytest.mark.parametrize("workers", [1, 2])
def test_cleaning_a_big_input_shows_its_progress_and_a_small_one_does_not(monkeypatch, capsys, workers):
    from braingan.data import smiles as sm

    data, enc = ["CCO", "CCN", "xyz"] * 20, encodings.get("selfies", "atoms")
    clean(data, enc, "repair", True, 40, False, workers=workers)
    assert "preprocess: clean" not in capsys.readouterr().err
    monkeypatch.setattr(sm, "PARALLEL_FROM", 10)  # 60 molecules count as a big input
    kept, _, rep = clean(data, enc, "repair", True, 40, False, workers=workers)
    err = capsys.readouterr().err
    assert "preprocess: clean" in err and "60/60" in err, err
    assert len(kept) == 40 and rep.dropped_invalid == 20  # the parts put back together, in order
    assert kept[:3] == ["CCO", "CCN", "CCO"]


def test_the_examples_picture_takes_the_first_digit_of_each_of_the_smallest_classes():
    from braingan.data.preprocess import first_of_each_class

    labels = np.array([3, 1, 3, 0, 1, 7, 0])
    assert first_of_each_class(labels, 8) == [3, 1, 0, 5]  # classes 0, 1, 3, 7
    assert first_of_each_class(labels, 2) == [3, 1]
