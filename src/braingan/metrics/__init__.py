"""Metrics: SMILES (MOSES definitions, collapse) and digits (classifier-based)."""
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
