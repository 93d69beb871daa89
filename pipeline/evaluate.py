"""Stage `evaluate`: honest metrics of the generator, with references on the same instruments."""
from braingan import evaluation, stage
from braingan.data import dataset
from braingan.tracking import Run

if __name__ == "__main__":
    stage.run("evaluate", lambda cfg: evaluation.run(cfg, dataset.load(), Run()))
