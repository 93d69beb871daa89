"""Stage `classifier`: the MNIST CNN used as the instrument of the digit metrics."""
from braingan import classifier, stage
from braingan.data.prepare import load_processed

if __name__ == "__main__":
    stage.run("classifier", lambda cfg: classifier.run(cfg, load_processed()))
