"""kinema: make any character move on Wan video diffusion transformers."""

__version__ = "0.1.0"
