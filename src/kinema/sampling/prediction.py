"""What the network's output means: the velocity v = ε − x0, or the clean sample x0 (x-prediction).

With x_t = (1 − σ)·x0 + σ·ε the two are tied by v = (x_t − x0) / σ, so a sample-predicting network
drives the same samplers and losses through that conversion. Li & He 2025 ("Back to Basics: Let
Denoising Generative Models Denoise") show that with high-dimensional pixel tokens, as kinema's
lossless codec makes them, predicting x0 trains far better than predicting v or ε: clean data lie
on a low-dimensional manifold a narrow network can reach, noise does not.

The prediction is a property of the trained weights: the model card (``kinema.json``) records it
and inference follows it.
"""

from __future__ import annotations

from typing import Literal

import torch

Prediction = Literal["velocity", "sample"]
PREDICTIONS: tuple[Prediction, ...] = ("velocity", "sample")
SIGMA_FLOOR = 0.05  # training only: the v-loss of x-prediction divides by max(σ, floor) (Li & He clip 1 − t at 0.05)


def _expand(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, ..., 1) broadcastable against ``like``."""
    return sigma.view(-1, *([1] * (like.ndim - 1))).to(like)


def check_prediction(prediction: str) -> Prediction:
    """``prediction`` if it is one of :data:`PREDICTIONS`, else ValueError."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction '{prediction}'; use one of {', '.join(PREDICTIONS)}")
    return prediction  # type: ignore[return-value]


def to_velocity(output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor, prediction: Prediction) -> torch.Tensor:
    """The velocity the network's ``output`` stands for at noise level ``sigma`` (B,): v̂ = (x_t − x̂0) / σ."""
    if check_prediction(prediction) == "velocity":
        return output
    return (x_t - output) / _expand(sigma, x_t)


def to_sample(output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor, prediction: Prediction) -> torch.Tensor:
    """The clean sample the network's ``output`` stands for: x̂0 = x_t − σ·v̂ for velocity prediction."""
    if check_prediction(prediction) == "sample":
        return output
    return x_t - _expand(sigma, x_t) * output
