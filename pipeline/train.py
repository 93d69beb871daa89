"""Stage `train`: the task-conditioned GAN (training.py), recorded in files and MLflow (recorder.py)."""
from braingan import classifier, stage, training
from braingan.data import dataset
from braingan.recorder.training import TrainingRecorder


def main(cfg):
    with TrainingRecorder() as rec:
        rec.finish(training.run(cfg, dataset.load(), classifier.load(), observer=rec))


if __name__ == "__main__":
    stage.run("train", main)
