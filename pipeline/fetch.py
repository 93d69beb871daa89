"""Stage `fetch`: raw MNIST digits and SMILES strings into data/raw/."""
from braingan import stage
from braingan.data import fetch

if __name__ == "__main__":
    stage.run("fetch", fetch.run)
