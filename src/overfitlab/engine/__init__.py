"""Pure JAX engine: MLPs, sklearn-exact optimizers, regularizers and vectorized training loops."""
