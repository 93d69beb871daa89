"""Data: sources (stage fetch), SMILES encoding and the canvas (stage preprocess)."""
