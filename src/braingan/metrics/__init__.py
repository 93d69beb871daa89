"""Metrics: SMILES (MOSES definitions, collapse) and digits (classifier-based)."""
