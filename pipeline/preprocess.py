"""Stage `preprocess`: clean SMILES, build the vocabulary and the shared canvas, split."""
from braingan import stage
from braingan.data.prepare import preprocess

if __name__ == "__main__":
    stage.run("preprocess", preprocess)
