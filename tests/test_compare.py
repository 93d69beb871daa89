"""The README's tables (compare.results_table / moses_table) from run records, worked by hand."""
from types import SimpleNamespace

from braingan.compare import moses_table, results_table


def _run(metrics: dict):
    return SimpleNamespace(data=SimpleNamespace(metrics=metrics))


def test_results_table_formats_each_headline_and_leaves_out_a_row_without_a_run(capsys):
    measured = _run({"Headline/digit_score_ratio": 0.8912, "Headline/digit_fd_ratio": 5.58,
                     "Headline/mol_valid": 0.8716, "Headline/mol_valid_sampled": 0.7371,
                     "Headline/digit_collapsed": 0.0, "Headline/mol_collapsed": 1.0, "train.wall_s": 2322.4})
    rows = [{"label": "a", "command": "dvc repro", "exp": "a"}, {"label": "b", "command": "dvc exp run -n b", "exp": "b"}]
    table = results_table(rows, lambda row: measured if row["label"] == "a" else None)
    lines = table.splitlines()
    assert len(lines) == 3  # header, rule, the one measured row
    assert lines[2] == ("| a | `dvc repro` | 0.89 | 5.6 | – | 0.872 / 0.737 | – / – | – | – | – | no / yes | 2322 |")
    assert "'b' (dvc exp run -n b); row left out" in capsys.readouterr().err


def test_moses_table_keeps_published_numbers_and_reads_a_run_under_the_moses_names(capsys):
    rows = [{"label": "CharRNN", "source": "MOSES README", "published": {"valid": 0.9748, "Novelty": 0.8419}},
            {"label": "ours", "command": "dvc exp run -n moses", "exp": "moses"},
            {"label": "absent", "command": "dvc exp run -n x", "exp": "x"}]
    run = _run({"eval.moses.valid": 0.5, "eval.moses.unique_at_10k": 0.25})
    table = moses_table(rows, lambda row: run if row["label"] == "ours" else None).splitlines()
    assert table[2] == "| CharRNN | MOSES README | 0.9748 | – | – | – | – | – | – | – | 0.8419 |"
    assert table[3] == "| ours | `dvc exp run -n moses` | 0.5 | 0.25 | – | – | – | – | – | – | – |"
    assert len(table) == 4 and "'absent'" in capsys.readouterr().err
