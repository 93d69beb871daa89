"""BrainGAN: one task-conditioned generator for MNIST digits and SMILES strings."""
__version__ = "0.1.0"
