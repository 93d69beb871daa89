"""Stage `evaluate`: N samples per trained task, each metric beside a reference measured
with the same instrument, on the same terms (the same path, the same sample size, drawn
at random, since the data files are sorted by class):

- digits: generated canvases and real digits both go through the canvas round trip;
  the classifier score of both uses the same split size; the Frechet floor compares
  random training digits with held-out ones at the generated sample's size;
- molecules: every sample is decoded through its encoding; read two ways, by argmax per
  row and by sampling each row (as training fed the critic); the references (training-set
  sampler without replacement, random-symbol sampler of the same encoding) take the same
  decoding and metrics; FCD is judged against training subsets of the same size.

MLflow: the evaluation is a child run of the training run (its own params, so a new
`evaluate.*` value never collides with MLflow's "params are immutable" rule); the
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
from . import paths, plots
from .checkpoint import load_generator
from .config import Config, flatten
from .data import canvas as cv
from .data.dataset import Processed
from .device import pick_device
from .errors import DataError
from .fsutil import save_figure, write_json, write_text
from .metrics import collapse as col
from .metrics import digits as dm
from .metrics import distribution as dist
from .metrics import smiles as sm
from .metrics import timed
from .metrics.frechet import frechet_distance, size_matched
from .models import MNIST, SMILES
from .tracking import context_tags
from .sampling import generate

# The numbers a person compares runs by: short names, logged as `Headline/<name>` on the
# training run (they sort together in the MLflow UI) and used by compare/sweep/results.
HEADLINE = {
    "digit_score_ratio": "digits.score_ratio", "digit_fd_ratio": "digits.frechet_over_floor",
    "digit_class_acc": "digits.class_accuracy", "digit_collapsed": "digits.collapsed",
    "mol_valid": "smiles.validity", "mol_valid_sampled": "smiles.sampled.validity", "mol_unique": "smiles.unique",
    "mol_novel": "smiles.novelty", "mol_kl_score": "smiles.kl_score", "mol_fcd_score": "smiles.fcd_score",
    "mol_fcd_ratio": "smiles.fcd_ratio", "mol_heavy_atoms": "smiles.heavy_atoms_mean",
    "mol_heavy_ratio": "smiles.heavy_atoms_ratio", "mol_collapsed": "smiles.collapsed",
}
VALIDITY_NOTE = {
    "selfies": "holds by construction: every SELFIES symbol string decodes to a molecule, so validity is no "
               "evidence of learning here; judge by kl_score, fcd_ratio and heavy_atoms_ratio",
    "deepsmiles": "DeepSMILES needs no matching ring digits or parentheses, so more random strings decode "
                  "than in SMILES; judge quality by kl_score and fcd_ratio",
    "smiles": "a sample is valid when it has no pad inside, is non-empty, and RDKit parses and sanitises it",
}


def run(cfg: Config, data: Processed, tracker, out: Path = paths.results("evaluate"),
        gen_path: Path = paths.GENERATOR, clf_path: Path = paths.CLASSIFIER,
        train_run: Path = paths.results("train") / "mlflow.json") -> dict:
    e = cfg.evaluate
    device = pick_device(e.device, "evaluate.device")
    G, mcfg, blob = load_generator(gen_path, device)
    if tuple(blob["shape"]) != data.shape or blob["vocab"] != data.vocab.symbols:
        raise DataError(f"{gen_path} was trained on a {blob['shape']} canvas / other vocabulary than "
                        f"{paths.PROCESSED}; re-run train")
    net = clf.load(clf_path)
    timings: dict[str, float] = {}
    rng = np.random.default_rng(cfg.seed)
    metrics: dict = {"n_samples": e.n_samples}
    refs: dict = {}
    if MNIST in blob["tasks"]:
        metrics["digits"], refs["digits"], digit_pic = _digits(G, mcfg, data, net, cfg, device, rng, timings)
    else:
        digit_pic = plots.digit_grid(data.heldout_images[:20] / 255.0, "no digits: this model was not trained on MNIST")
    rows = []
    if SMILES in blob["tasks"]:
        metrics["smiles"], refs["smiles"], rows, gen_desc, train_desc, idx = _smiles(G, mcfg, data, cfg, device, rng,
                                                                                      timings)
        save_figure(plots.descriptor_histograms(gen_desc, train_desc), out / "descriptors.png")
        save_figure(plots.position_frequencies(idx, data.smiles_train_idx, data.vocab.symbols), out / "positions.png")
    else:
        for name in ("descriptors.png", "positions.png"):
            save_figure(plots.message("no molecules: this model was not trained on SMILES"), out / name)
    metrics["reference"] = refs
    metrics = _json_safe(metrics)

    save_figure(digit_pic, out / "digits.png")
    valid_rows = [r for r in rows if r[0] == "argmax" and r[4]]
    plots.molecule_grid([r[3] for r in valid_rows], out / "molecules.png",
                        legends=[f"{r[1][:24]}\n-> {r[3][:24]}" for r in valid_rows],
                        title="" if rows else "(model not trained on SMILES)")
    _write_csv(out / "smiles.csv", rows)
    write_json(out / "metrics.json", metrics)
    write_json(out / "timings.json", {k: round(v, 3) for k, v in timings.items()})
    _log(tracker, cfg, metrics, out, train_run)
    for k, v in sorted(timings.items()):
        print(f"  {k:28s} {v:8.2f} s", file=sys.stderr)
    return metrics


# ---------------------------------------------------------------- digits
def _digits(G, mcfg, data: Processed, net, cfg: Config, device, rng, timings) -> tuple[dict, dict, object]:
    e, shape, mode = cfg.evaluate, data.shape, data.mode
    with timed(timings, "digit_references"):
        # real digits take the canvas round trip a generated digit takes; random order, as the data are class-sorted
        order = rng.permutation(len(data.heldout_images))
        held_raw, held_labels = data.heldout_images[order], data.heldout_labels[order]
        held = cv.round_trip(held_raw, shape, mode)
        ho_probs, ho_feats = clf.predict(net, held)
        _, ho_raw_feats = clf.predict(net, held_raw.astype(np.float32) / 255.0)
        _, tr_feats = clf.predict(net, cv.round_trip(data.train_images, shape, mode))
        ceiling, _ = dm.classifier_score(ho_probs, e.score_split)
        floor = size_matched(tr_feats, ho_feats, e.n_samples, e.ref_draws, rng)
        ref = {
            "heldout_classifier_score": ceiling,  # the ceiling: real digits, same path, same split size
            "heldout_classes_covered": dm.class_coverage(ho_probs),
            "heldout_accuracy_round_trip": float((ho_probs.argmax(1) == held_labels).mean()),
            "frechet_floor": floor,  # random training digits vs held-out, both round-tripped, n = n_samples
            "frechet_floor_n": min(e.n_samples, len(tr_feats)),
            "round_trip_frechet": frechet_distance(ho_raw_feats, ho_feats),  # what the round trip alone costs
            "round_trip_pixel_error_max": float(np.abs(held - held_raw / 255.0).max()),
            "diversity": col.feature_diversity(ho_feats, rng),
        }
    with timed(timings, "generate_digits"):
        canv, classes = generate(G, mcfg, MNIST, e.n_samples, cfg.seed, device)
        order = rng.permutation(len(canv))  # the score's splits must not follow the class cycle
        images, classes = cv.from_canvas(canv[order], mode), classes[order]
    with timed(timings, "digit_metrics"):
        probs, feats = clf.predict(net, images)
        m = dm.digit_metrics(probs, feats, ho_feats, e.score_split,
                             classes if mcfg.conditioning == "task+class" else None)
        m["score_ratio"] = m["classifier_score"] / ceiling
        m["frechet_over_floor"] = m["frechet"] / floor if floor else None
        m.update(col.digit_collapse(m["classes_covered"], col.feature_diversity(feats, rng), ref["diversity"],
                                    min_classes=e.collapse_min_classes, diversity=e.collapse_diversity))
    pic = plots.digit_grid(images[:100], f"generated digits ({mcfg.family}, {mcfg.activation}); classifier label "
                                         "above each", labels=probs[:100].argmax(1))
    return m, ref, pic


# ---------------------------------------------------------------- molecules
def _smiles(G, mcfg, data: Processed, cfg: Config, device, rng, timings):
    e, vocab = cfg.evaluate, data.vocab
    inst = _Instruments(data, cfg, rng, timings)
    with timed(timings, "generate_smiles"):
        canv, _ = generate(G, mcfg, SMILES, e.n_samples, cfg.seed + 1, device)
        readings = {"argmax": canv.argmax(-1), "sampled": sample_rows(canv, rng)}
    m, decoded_a = inst.measure(readings["argmax"], full=True)
    m["sampled"], decoded_s = inst.measure(readings["sampled"], full=False)
    m["validity_note"] = VALIDITY_NOTE[vocab.encoding.name]
    with timed(timings, "smiles_references"):
        n = min(e.n_samples, len(data.smiles_train_idx))
        trainset = data.smiles_train_idx[rng.choice(len(data.smiles_train_idx), n, replace=False)]
        ref = {"train_round_trip_validity": sm.validity(vocab.decode(data.smiles_train_idx)),
               "trainset": inst.measure(trainset, full=True)[0], "random": inst.measure(random_rows(data, e.n_samples,
                                                                                                      rng), full=True)[0]}
    rows = [(name, raw, s or "", c or "", c is not None, bool(c and c not in inst.train_can))
            for name, idx, dec in (("argmax", readings["argmax"], decoded_a), ("sampled", readings["sampled"], decoded_s))
            for raw, s, c in zip(vocab.raw(idx), dec, sm.canonical(dec))]
    return m, ref, rows, inst.last_desc, inst.train_desc, readings["argmax"]


class _Instruments:
    """The molecule metrics, with what every set is measured against computed once."""

    def __init__(self, data: Processed, cfg: Config, rng, timings):
        self.data, self.e, self.rng, self.timings = data, cfg.evaluate, rng, timings
        with timed(timings, "smiles_setup"):
            train_valid = [c for c in sm.canonical(data.smiles_train) if c]
            self.train_can = set(train_valid)
            self.train_valid = train_valid
            self.heldout_valid = [c for c in sm.canonical(data.smiles_heldout) if c]
            self.collapse_ref = col.smiles_diversity(data.smiles_train_idx, data.vocab.pad, len(data.vocab), rng)
            self.chemnet = dist.ChemNet() if self.e.fcd else None
        with timed(timings, "descriptors"):
            self.train_desc = dist.descriptors(train_valid, nn_similarity=False)
        if self.chemnet:
            with timed(timings, "fcd"):
                self.act_ho = self.chemnet.activations(self.heldout_valid)
                self.act_train = dist.ActivationPool(self.chemnet, train_valid)  # the rows drawn
        self.last_desc = None

    def measure(self, idx: np.ndarray, full: bool) -> tuple[dict, list]:
        e, vocab = self.e, self.data.vocab
        with timed(self.timings, "decode_validity"):
            decoded = vocab.decode(idx)
            can = sm.canonical(decoded)
            valid = [c for c in can if c is not None]
        m = {"n": len(idx), "validity": len(valid) / len(idx), "unique_at_1000": sm.fraction_unique(valid, 1000),
             "unique": sm.fraction_unique(valid), "novelty": sm.novelty(valid, self.train_can)}
        with timed(self.timings, "collapse"):
            m.update(col.smiles_collapse(idx, vocab.pad, len(vocab), self.collapse_ref, self.rng,
                                         top_share=e.collapse_top_share, pad_share=e.collapse_pad_share,
                                         symbol_share=e.collapse_symbol_share, diversity=e.collapse_diversity))
        if not full:
            return m, decoded
        with timed(self.timings, "internal_diversity"):
            m["int_div"] = sm.internal_diversity(valid[: e.distribution_max])
        sub = [valid[i] for i in self.rng.permutation(len(valid))[: e.distribution_max]]
        with timed(self.timings, "descriptors"):
            gen_desc = dist.descriptors(sub)
        with timed(self.timings, "kl_score"):
            # the nearest-neighbour similarity grows with the set's size: the training side is a set of the same size
            same_size = [self.train_valid[i] for i in self.rng.permutation(len(self.train_valid))[: len(sub)]]
            ref_desc = {**self.train_desc, dist.NN_SIMILARITY: dist.nearest_neighbour_similarity(same_size)}
            m["kl_score"], m["kl"] = dist.kl_score(ref_desc, gen_desc)
        m.update(dist.heavy_atoms(gen_desc, self.train_desc))
        if self.chemnet:
            with timed(self.timings, "fcd"):
                act = self.chemnet.activations(sub)
                m["fcd"] = dist.fcd(act, self.act_ho)
                m["fcd_n"] = len(sub)
                m["fcd_reference"] = size_matched(self.act_train, self.act_ho, len(sub), e.ref_draws, self.rng)
                m["fcd_ratio"] = m["fcd"] / m["fcd_reference"] if m["fcd"] is not None and m["fcd_reference"] else None
                m["fcd_score"] = dist.fcd_score(m["fcd"])
        self.last_desc = gen_desc
        return m, decoded


def sample_rows(canvas: np.ndarray, rng) -> np.ndarray:
    """One symbol per row drawn from the row's distribution (rows normalised to sum 1)."""
    p = np.clip(canvas, 0, None)
    cdf = np.cumsum(p, -1)
    u = rng.random(p.shape[:-1])[..., None] * cdf[..., -1:]
    return np.minimum((cdf <= u).sum(-1), p.shape[-1] - 1)


def random_rows(data: Processed, n: int, rng) -> np.ndarray:
    """The random-symbol sampler: training string lengths, symbols uniform over the vocabulary (no pad)."""
    L, pad = data.shape[0], data.vocab.pad
    lengths = (data.smiles_train_idx != pad).sum(1)
    symbols = np.array([i for i in range(len(data.vocab)) if i != pad])
    idx = np.full((n, L), pad, dtype=np.int64)
    for i, k in enumerate(rng.choice(lengths, n)):
        idx[i, :k] = rng.choice(symbols, k)
    return idx


def _write_csv(path: Path, rows) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["reading", "raw", "smiles", "canonical", "valid", "novel"])
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


def mlflow_metrics(metrics: dict) -> dict[str, float]:
    """The numbers of metrics.json as MLflow metrics: flattened, booleans as 0/1, None left out."""
    return {f"eval.{k}": float(v) for k, v in flatten(metrics).items()
            if isinstance(v, (int, float)) and v is not None}


def headline(metrics: dict) -> dict[str, float]:
    flat = flatten(metrics)
    return {f"Headline/{name}": float(flat[key]) for name, key in HEADLINE.items()
            if isinstance(flat.get(key), (int, float))}


def _log(tracker, cfg: Config, metrics: dict, out: Path, train_run: Path) -> None:
    if not tracker.enabled:
        return
    parent = json.loads(Path(train_run).read_text())["run_id"] if Path(train_run).exists() else None
    numeric = mlflow_metrics(metrics)
    pictures = [f for f in ("digits.png", "molecules.png", "descriptors.png", "positions.png") if (out / f).exists()]
    tracker.start(name=f"evaluate-{cfg.digest('evaluate')[:8]}",
                  params={f"evaluate.{k}": v for k, v in flatten(cfg.to_dict()["evaluate"]).items()},
                  tags={"braingan.stage": "evaluate", **context_tags()}, parent=parent)
    try:
        tracker.log_metrics({**numeric, **headline(metrics)}, flush=True)
        for f in ("metrics.json", "smiles.csv", "timings.json", *pictures):
            tracker.log_artifact(out / f, "evaluate")
    finally:
        tracker.end("FINISHED")
    if parent:  # headline numbers and pictures on the training run too, for side-by-side comparison
        from .tracking import Run

        p = Run(parent)
        p.log_metrics({**numeric, **headline(metrics)}, flush=True)
        for f in ("metrics.json", "smiles.csv", *pictures):
            p.log_artifact(out / f, "evaluate")
        p.set_tags({"braingan.last_evaluation": tracker.run_id})
