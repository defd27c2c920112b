"""Training: per-fold transforms fitted on training patients, the training loop, predictions, checkpoints."""
