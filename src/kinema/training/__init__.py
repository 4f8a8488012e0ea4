"""Training: the rectified-flow trainer, its run directory, data recipes and distributed setup."""
