"""Stage `train`: the task-conditioned GAN, tracked in MLflow."""
from braingan import stage, training
from braingan.data.prepare import load_processed
from braingan.tracking import Run

if __name__ == "__main__":
    stage.run("train", lambda cfg: training.run(cfg, load_processed(), Run()))
