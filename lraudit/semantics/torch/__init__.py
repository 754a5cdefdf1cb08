"""PyTorch-ecosystem semantics: schedulers and optimizers replayed as PyTorch computes them."""
