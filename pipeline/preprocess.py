"""Stage `preprocess`: clean SMILES, encode them, build the vocabulary and the shared canvas, split."""
from braingan import stage
from braingan.data import preprocess

if __name__ == "__main__":
    stage.run("preprocess", preprocess.run)
