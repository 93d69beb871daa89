"""A Markdown comparison of trained runs in the MLflow store.

    braingan compare                            # the 10 newest training runs
    braingan compare --last 20 --out comparison.md
    braingan compare --filter "tags.braingan.search = 'A'"
    braingan compare --rows benchmarks/results.yaml --readme README.md

Prints the params that differ between the runs, the headline metrics, and where each
run's pictures are. With --rows, writes the README's results table instead: one row per
entry of the rows file, each naming its run (the workspace's, a DVC experiment's, or a
sweep row's) and the command that made it; --readme replaces the table between the
README's `<!-- results:start -->` and `<!-- results:end -->` markers (--block: other names).
"""
from __future__ import annotations

import argparse
import sys

from .evaluation import HEADLINE
from .tracking import EXPERIMENT, tracking_uri

COLUMNS = [f"Headline/{name}" for name in HEADLINE] + ["train.wall_s"]
PICTURES = ["evaluate/digits.png", "evaluate/molecules.png", "evaluate/descriptors.png"]


def markdown(runs) -> str:
    if not runs:
        return "No training runs found.\n"
    keys = sorted({k for r in runs for k in r.data.params})
    differ = [k for k in keys if len({r.data.params.get(k) for r in runs}) > 1]
    names = [r.data.tags.get("dvc.exp_name") or r.info.run_name for r in runs]
    out = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(runs)]
    out.append("| run id | " + " | ".join(r.info.run_id[:8] for r in runs) + " |")
    out.append("| status | " + " | ".join(r.info.status for r in runs) + " |")
    for k in differ:
        out.append(f"| `{k}` | " + " | ".join(str(r.data.params.get(k, "")) for r in runs) + " |")
    for k in COLUMNS:
        vals = [r.data.metrics.get(k) for r in runs]
        if any(v is not None for v in vals):
            out.append(f"| **{k}** | " + " | ".join("" if v is None else f"{v:.4g}" for v in vals) + " |")
    out.append("")
    out.append("Pictures:")
    for name, r in zip(names, runs):
        out.append(f"- {name}: " + ", ".join(f"{r.info.artifact_uri}/{p}" for p in PICTURES))
    return "\n".join(out) + "\n"


# the results table: (header, headline name, format)
TABLE = [("digit score / real", "digit_score_ratio", "{:.2f}"), ("digit FD / floor", "digit_fd_ratio", "{:.1f}"),
         ("digits of the asked class", "digit_class_acc", "{:.2f}"), ("mols valid (argmax / sampled)", None, None),
         ("unique / novel", None, None), ("KL score", "mol_kl_score", "{:.2f}"), ("FCD / ref", "mol_fcd_ratio", "{:.2f}"),
         ("heavy atoms / training", "mol_heavy_ratio", "{:.2f}"), ("collapsed (digits / mols)", None, None)]


def _fmt(metrics: dict, name: str, fmt: str = "{:.2f}") -> str:
    v = metrics.get(f"Headline/{name}", metrics.get(f"eval.{HEADLINE[name]}"))
    return "–" if v is None else fmt.format(v)


def _left_out(row: dict) -> None:
    """A row whose run this store lacks is not tabled; the command that makes it is said on stderr."""
    print(f"braingan compare: no run in the store for {row['label']!r} ({row['command']}); row left out",
          file=sys.stderr)


def results_table(rows: list[dict], runs_by: dict) -> str:
    """The README's table: a row per entry, each from its run's metrics."""
    head = ["run", "command", *(h for h, _, _ in TABLE), "train s"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        run = runs_by(row)
        if run is None:  # not measured in this store: left out of the table, said on stderr
            _left_out(row)
            continue
        m = run.data.metrics
        cells = []
        for header, name, fmt in TABLE:
            if name:
                cells.append(_fmt(m, name, fmt))
            elif header.startswith("mols valid"):
                cells.append(f"{_fmt(m, 'mol_valid', '{:.3f}')} / {_fmt(m, 'mol_valid_sampled', '{:.3f}')}")
            elif header.startswith("unique"):
                cells.append(f"{_fmt(m, 'mol_unique')} / {_fmt(m, 'mol_novel')}")
            else:
                cells.append(" / ".join({"–": "–", "1.00": "yes", "0.00": "no"}[_fmt(m, k)]
                                        for k in ("digit_collapsed", "mol_collapsed")))
        wall = m.get("train.wall_s")
        out.append(f"| {row['label']} | `{row['command']}` | " + " | ".join(cells) +
                   f" | {'–' if wall is None else f'{wall:.0f}'} |")
    return "\n".join(out) + "\n"


# the MOSES table: the columns of the MOSES README's summary (metric name in metrics.json)
MOSES = [("valid", "valid"), ("unique@10k", "unique@10k"), ("FCD/Test", "FCD/Test"), ("SNN/Test", "SNN/Test"),
         ("Frag/Test", "Frag/Test"), ("Scaf/Test", "Scaf/Test"), ("IntDiv", "IntDiv"), ("Filters", "Filters"),
         ("Novelty", "Novelty")]


def moses_table(rows: list[dict], runs_by) -> str:
    """Published rows (numbers given in the rows file, with their source) and this project's rows
    (each an MLflow run's `eval.moses.*` metrics) under the MOSES column names."""
    out = ["| model | source | " + " | ".join(h for h, _ in MOSES) + " |", "|---|---|" + "---|" * len(MOSES)]
    for row in rows:
        if "published" in row:
            vals = [row["published"].get(k) for _, k in MOSES]
            source = row.get("source", "published")
        else:
            run = runs_by(row)
            if run is None:
                _left_out(row)
                continue
            m = run.data.metrics
            vals = [m.get(f"eval.moses.{k}".replace("@", "_at_")) for _, k in MOSES]
            source = f"`{row['command']}`"
        out.append(f"| {row['label']} | {source} | " + " | ".join("–" if v is None else f"{v:.4g}" for v in vals) + " |")
    return "\n".join(out) + "\n"


def _runs_by(client, exp_id: str):
    def find(row: dict):
        from mlflow.exceptions import MlflowException

        if "run_id" in row or row.get("run") == "workspace":
            # a run named by its id (e.g. a fresh clone's `dvc repro` of an earlier commit), or the
            # workspace's training run (results/train/mlflow.json), when this store has it
            import json

            from . import paths

            run_id = row.get("run_id") or json.loads((paths.results("train") / "mlflow.json").read_text())["run_id"]
            try:
                return client.get_run(run_id)
            except MlflowException:
                return None
        tag, value = next((t, row[k]) for k, t in (("exp", "dvc.exp_name"), ("tag", None), ("search", "braingan.search"))
                          if k in row)
        if tag is None:  # `tag: {name: value}`
            tag, value = next(iter(row["tag"].items()))
        runs = client.search_runs([exp_id], filter_string=f"tags.`{tag}` = '{value}'",
                                  order_by=["attributes.start_time DESC"])
        runs = [r for r in runs if r.data.tags.get("braingan.stage") not in ("evaluate", "search")
                and r.info.status == "FINISHED"]
        return runs[0] if runs else None
    return find


def replace_block(readme: str, table: str, block: str = "results") -> str:
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in readme or end not in readme:
        raise SystemExit(f"the README has no {start} ... {end} block to fill")
    head, rest = readme.split(start, 1)
    return head + start + "\n" + table + end + rest.split(end, 1)[1]


def main(argv=None) -> None:
    from mlflow.tracking import MlflowClient

    ap = argparse.ArgumentParser(prog="braingan compare", description=__doc__.splitlines()[0])
    ap.add_argument("--last", type=int, default=10, help="newest N training runs")
    ap.add_argument("--filter", default="", help="an MLflow search filter, ANDed with 'not a child run'")
    ap.add_argument("--rows", help="a YAML list of results-table rows (label, command, run|exp|search|tag)")
    ap.add_argument("--moses", help="a YAML list of MOSES-table rows (label and published values, or a run)")
    ap.add_argument("--readme", help="with --rows: replace the table between the README's markers")
    ap.add_argument("--block", default="results", help="with --readme: the markers' name (<!-- NAME:start -->)")
    ap.add_argument("--out", default="", help="write here instead of stdout")
    a = ap.parse_args(argv)
    client = MlflowClient(tracking_uri())
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        sys.exit(f"no MLflow experiment '{EXPERIMENT}' at {tracking_uri()}: run the pipeline first")
    if a.rows or a.moses:
        import yaml
        from pathlib import Path

        from .fsutil import write_text

        if a.moses:
            table = moses_table(yaml.safe_load(Path(a.moses).read_text()), _runs_by(client, exp.experiment_id))
            a.block = a.block if a.block != "results" else "moses"
        else:
            table = results_table(yaml.safe_load(Path(a.rows).read_text()), _runs_by(client, exp.experiment_id))
        if a.readme:
            write_text(a.readme, replace_block(Path(a.readme).read_text(), table, a.block))
            print(f"table of {a.rows or a.moses} written into {a.readme}")
        else:
            print(table)
        return
    runs = client.search_runs([exp.experiment_id], filter_string=a.filter, order_by=["attributes.start_time DESC"],
                              max_results=1000)
    runs = [r for r in runs if r.data.tags.get("braingan.stage") not in ("evaluate", "search")][: a.last]
    text = markdown(runs)
    if a.out:
        from .fsutil import write_text

        write_text(a.out, text)
    else:
        print(text)


if __name__ == "__main__":
    main()
