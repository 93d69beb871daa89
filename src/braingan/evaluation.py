"""Stage `evaluate`: N samples per trained task, measured with the same instruments as
the references written beside them (real held-out digits, the train-vs-held-out
Frechet floor, training SMILES, a random-symbol and a training-set SMILES sampler).

MLflow: the evaluation is a child run of the training run (its own params, so a new
`evaluate.*` value never collides with MLflow's "params are immutable" rule); its
headline metrics and pictures are also added to the training run for side-by-side views.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from . import classifier as clf
from . import plots
from .config import Config, flatten
from .data import canvas as cv
from .data.prepare import Processed
from .data.smiles import tokenize
from .fsutil import DataError, save_figure, write_json, write_text
from .metrics import digits as dm
from .metrics import timed
from .metrics import smiles as sm
from .models import MNIST, SMILES
from .tracking import context_tags
from .training import TASKS, generate, load_generator, pick_device


def run(cfg: Config, data: Processed, tracker, out: Path = Path("results/evaluate"),
        gen_path: Path = Path("models/generator.pt"), clf_path: Path = Path("models/classifier.pt"),
        train_run: Path = Path("results/train/mlflow.json")) -> dict:
    for p in (gen_path, clf_path):
        if not p.exists():
            raise DataError(f"{p} is missing: run the stage that makes it first (dvc repro)")
    e = cfg.evaluate
    timings: dict[str, float] = {}
    device = pick_device(cfg.train.device)
    G, mcfg, blob = load_generator(gen_path, device)
    if tuple(blob["shape"]) != data.shape or blob["vocab"] != data.vocab.symbols:
        raise DataError(f"{gen_path} was trained on a {blob['shape']} canvas / other vocabulary than data/processed; re-run train")
    net = clf.load(clf_path)
    trained = TASKS[_train_tasks(Path(train_run).parent / "params.yaml", cfg)]
    metrics: dict = {"n_samples": e.n_samples}
    ref: dict = {}
    rng = np.random.default_rng(cfg.seed)

    # ---------------------------------------------------------------- digits
    # random order: the score's splits must not follow the class-sorted data (or the class cycle)
    heldout = data.heldout_images[rng.permutation(len(data.heldout_images))].astype(np.float32) / 255.0
    with timed(timings, "classifier_features"):
        ho_probs, ho_feats = clf.predict(net, heldout)
        _, tr_feats = clf.predict(net, data.train_images[: 5 * len(heldout)].astype(np.float32) / 255.0)
    ho_score, _ = dm.classifier_score(ho_probs)
    ref["digits_heldout_classifier_score"] = ho_score
    ref["digits_heldout_classes_covered"] = dm.class_coverage(ho_probs)
    ref["digits_frechet_floor"] = dm.frechet_distance(tr_feats, ho_feats)
    digit_images = None
    if MNIST in trained:
        with timed(timings, "generate_digits"):
            canv, classes = generate(G, mcfg, MNIST, e.n_samples, cfg.seed, device)
            order = rng.permutation(len(canv))
            canv, classes = canv[order], classes[order]
            digit_images = cv.from_canvas(canv, data.mode)
        with timed(timings, "digit_metrics"):
            probs, feats = clf.predict(net, digit_images)
            dmet = dm.digit_metrics(probs, feats, ho_feats,
                                    classes if mcfg.conditioning == "task+class" else None)
        dmet["frechet_over_floor"] = dmet["frechet"] / max(ref["digits_frechet_floor"], 1e-9)
        metrics["digits"] = dmet
        save_figure(plots.digit_grid(digit_images[:100], f"generated digits ({mcfg.family}, {mcfg.activation}); "
                                     f"classifier label above each", labels=probs[:100].argmax(1)), out / "digits.png")

    # ---------------------------------------------------------------- SMILES
    train_can = set(c for c in sm.canonical(data.smiles_train) if c)
    ho_valid = [c for c in sm.canonical(data.smiles_heldout) if c]
    L = data.shape[0]
    # the training SMILES through the very canvas encode/decode path the generator's output takes
    tr_round = data.vocab.decode(data.vocab.one_hot(data.vocab.encode(data.smiles_train, L)))
    ref["smiles_train_validity"] = sm.validity(tr_round)
    lengths = [len(tokenize(s, data.vocab.halogen_tokens)) for s in data.smiles_train]
    with timed(timings, "reference_samplers"):
        rand = _random_symbols(data, lengths, e.n_samples, rng)
        rmet, _ = sm.smiles_metrics(rand, train_can, ho_valid, e.fcd, e.fcd_max)
        ref.update({f"smiles_random_{k}": v for k, v in rmet.items() if k != "n"})
        trs = [data.smiles_train[i] for i in rng.integers(len(data.smiles_train), size=e.n_samples)]
        tmet, _ = sm.smiles_metrics(trs, train_can, ho_valid, e.fcd, e.fcd_max)
        ref.update({f"smiles_trainset_{k}": v for k, v in tmet.items() if k != "n"})
    rows = []
    if SMILES in trained:
        with timed(timings, "generate_smiles"):
            canv, _ = generate(G, mcfg, SMILES, e.n_samples, cfg.seed + 1, device)
            idx = canv.argmax(-1)
            smiles = data.vocab.decode(idx)
        smet, can = sm.smiles_metrics(smiles, train_can, ho_valid, e.fcd, e.fcd_max, timings)
        with timed(timings, "collapse"):
            smet.update(sm.collapse(idx, data.vocab.pad, e.collapse_top_share, e.collapse_pad_share))
        metrics["smiles"] = smet
        rows = [(s, c is not None, c or "", bool(c and c not in train_can)) for s, c in zip(smiles, can)]
        n_drawn = plots.molecule_grid([r[2] for r in rows if r[1]], out / "molecules.png")
        smet["molecules_drawn"] = n_drawn
    metrics["reference"] = ref

    _write_csv(out / "smiles.csv", rows)
    if digit_images is None:
        save_figure(plots.digit_grid(heldout[:20], "no digits: this model was not trained on MNIST"), out / "digits.png")
    if not rows:
        plots.molecule_grid([], out / "molecules.png", title="(model not trained on SMILES)")
    metrics = _json_safe(metrics)
    write_json(out / "metrics.json", metrics)
    write_json(out / "timings.json", {k: round(v, 3) for k, v in timings.items()})
    _log(tracker, cfg, metrics, out, train_run)
    for k, v in sorted(timings.items()):
        print(f"  {k:24s} {v:8.2f} s", file=sys.stderr)
    return metrics


def _train_tasks(params_path: Path, cfg: Config) -> str:
    """The tasks the generator was trained on (from the train stage's saved params)."""
    import yaml

    if params_path.exists():
        return yaml.safe_load(params_path.read_text())["train"]["tasks"]
    return cfg.train.tasks


def _random_symbols(data: Processed, lengths: list[int], n: int, rng) -> list[str]:
    """Random-symbol sampler: lengths from the training distribution, symbols uniform (no pad)."""
    syms = [s for s in data.vocab.symbols if s != "|"]
    return ["".join(rng.choice(syms, size=rng.choice(lengths))) for _ in range(n)]


def _write_csv(path: Path, rows) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["smiles", "valid", "canonical", "novel"])
    w.writerows(rows)
    write_text(path, buf.getvalue())


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return _json_safe(obj.item())
    return obj


def _log(tracker, cfg: Config, metrics: dict, out: Path, train_run: Path) -> None:
    if not tracker.enabled:
        return
    parent = json.loads(Path(train_run).read_text())["run_id"] if Path(train_run).exists() else None
    numeric = {f"eval.{k}": (float(v) if not isinstance(v, bool) else float(v))
               for k, v in flatten(metrics).items() if isinstance(v, (int, float))}
    tracker.start(name=f"evaluate-{cfg.digest('evaluate')[:8]}",
                  params={f"evaluate.{k}": v for k, v in flatten(cfg.to_dict()["evaluate"]).items()},
                  tags={"braingan.stage": "evaluate", **context_tags()}, parent=parent)
    try:
        tracker.log_metrics(numeric, flush=True)
        for f in ("metrics.json", "digits.png", "molecules.png", "smiles.csv", "timings.json"):
            tracker.log_artifact(out / f, "evaluate")
    finally:
        tracker.end("FINISHED")
    if parent:  # headline numbers and pictures on the training run too, for side-by-side comparison
        from .tracking import Run

        p = Run(parent)
        p.log_metrics(numeric, flush=True)
        for f in ("metrics.json", "digits.png", "molecules.png", "smiles.csv"):
            p.log_artifact(out / f, "evaluate")
        p.set_tags({"braingan.last_evaluation": tracker.run_id})
