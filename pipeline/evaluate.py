"""Stage `evaluate`: honest metrics of the generator, with references on the same instruments."""
from braingan import classifier, evaluation, paths, stage
from braingan.data import dataset
from braingan.device import pick_device
from braingan.generator import Generator
from braingan.recorder.evaluation import record_evaluation
from braingan.tracking import Run


def main(cfg):
    run = Run()  # a tracking URI that cannot work stops the stage here, before any work
    g = Generator.load(paths.GENERATOR, pick_device(cfg.evaluate.device, "evaluate.device"))
    record_evaluation(cfg, evaluation.run(cfg, dataset.load(), g, classifier.load()), run=run)


if __name__ == "__main__":
    stage.run("evaluate", main)
