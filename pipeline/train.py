"""Stage `train`: the task-conditioned GAN, tracked in MLflow."""
from braingan import stage, training
from braingan.data import dataset
from braingan.tracking import Run

if __name__ == "__main__":
    stage.run("train", lambda cfg: training.run(cfg, dataset.load(), Run()))
