"""Stage `validate`: the whole params file, before any stage that has outputs runs."""
from braingan import stage, validation

if __name__ == "__main__":
    stage.run("validate", validation.run)
