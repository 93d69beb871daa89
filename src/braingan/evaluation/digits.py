"""The digit half of `evaluate`: generated digits through the classifier, beside real digits
that took the same canvas round trip, scored with the same split size and sample size."""
from __future__ import annotations

import numpy as np

from .. import classifier as clf
from .. import plots
from ..config import Config
from ..data import canvas as cv
from ..data.dataset import Processed
from ..errors import DataError
from ..fsutil import figure_png
from ..generator import Generator
from ..metrics import collapse as col
from ..metrics import digits as dm
from ..metrics import timed
from ..metrics.frechet import frechet_distance, size_matched
from ..models import MNIST


def references(data: Processed, net, cfg: Config, rng) -> tuple[dict, np.ndarray, float]:
    """The real digits' numbers on the same instrument: (references, held-out features, ceiling)."""
    e, shape, mode = cfg.evaluate, data.shape, data.mode
    if len(data.heldout_images) < e.score_split:
        raise DataError(f"evaluate.score_split: {e.score_split} is more than the {len(data.heldout_images)} held-out "
                        "digits it scores the real digits in; lower it, or raise preprocess.heldout / max_digits")
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
    return ref, ho_feats, ceiling


def evaluate(g: Generator, data: Processed, net, cfg: Config, rng, timings: dict) -> tuple[dict, dict, bytes]:
    """(digit metrics, their references, the picture of the first 100 generated digits)."""
    e = cfg.evaluate
    with timed(timings, "digit_references"):
        ref, ho_feats, ceiling = references(data, net, cfg, rng)
        floor = ref["frechet_floor"]
    with timed(timings, "generate_digits"):
        s = g.sample(MNIST, e.n_samples, cfg.seed)
        order = rng.permutation(len(s.canvas))  # the score's splits must not follow the class cycle
        images, classes = s.images[order], s.classes[order]
    asked = classes if g.model.conditioning == "task+class" else None
    with timed(timings, "digit_metrics"):
        probs, feats = clf.predict(net, images)
        m = dm.digit_metrics(probs, feats, ho_feats, e.score_split, asked)
        m["score_ratio"] = m["classifier_score"] / ceiling
        m["frechet_over_floor"] = m["frechet"] / floor if floor else None
        m.update(col.digit_collapse(m["classes_covered"], col.feature_diversity(feats, rng), ref["diversity"],
                                    min_classes=e.collapse_min_classes, diversity=e.collapse_diversity))
    title = (f"generated digits ({g.model.family}, {g.model.activation}), 28x28 as the classifier reads them; "
             + ("asked class > classifier's label" if asked is not None else "classifier's label"))
    pic = figure_png(plots.digit_grid(images[:100], title, read=probs[:100].argmax(1),
                                      asked=None if asked is None else asked[:100]))
    return m, ref, pic
