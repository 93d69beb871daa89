"""Every file and folder the stages read or write, written once.

`dvc.yaml` names the same paths as stage deps and outs; tests/test_dvc_stages.py holds
the two against each other, so a path changed here and not there (or back) fails a test.
"""
from pathlib import Path

RAW = Path("data/raw")  # fetch: mnist.npz, smiles.txt, sources.json
PROCESSED = Path("data/processed")  # preprocess: splits, canvases, meta.json
CLASSIFIER = Path("models/classifier.pt")
GENERATOR = Path("models/generator.pt")
GENERATOR_ARTIFACT = "train/generator.pt"  # the generator file inside its training run's MLflow artifacts
# Not a DVC output: DVC would delete it before a re-run, and an interrupted run must
# resume from it. Checkpoints carry a digest of what they were trained with.
CHECKPOINTS = Path("models/checkpoints")
RESULTS = Path("results")


def results(stage: str) -> Path:
    """`results/<stage>/`: the stage's metrics.json, pictures and small files."""
    return RESULTS / stage
