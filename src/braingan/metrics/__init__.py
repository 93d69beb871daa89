"""Metrics, each in the module of its concern: `smiles` (MOSES definitions), `distribution`
(GuacaMol's KL score, FCD score, heavy atoms), `collapse` (collapse and diversity of both
tasks), `digits` (classifier-based), `frechet` (the distance both tasks use).

A value that is not defined for the sample at hand (uniqueness of zero molecules) is None:
null in metrics.json and absent from MLflow, never a number that only looks like a result.
"""
import contextlib
import time


@contextlib.contextmanager
def timed(timings: dict | None, key: str):
    """Add the block's wall time to timings[key] (benchmarks print them per metric)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
