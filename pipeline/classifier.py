"""Stage `classifier`: the MNIST CNN used as the instrument of the digit metrics."""
from braingan import classifier, stage
from braingan.data import dataset

if __name__ == "__main__":
    stage.run("classifier", lambda cfg: classifier.run(cfg, dataset.load()))
