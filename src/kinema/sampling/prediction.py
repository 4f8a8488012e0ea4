"""What the network's output means: the velocity v = ε − x0, the clean sample x0 (x-prediction), or a
preconditioned correction to the noisy input (EDM's skip parameterisation).

With x_t = (1 − σ)·x0 + σ·ε the two are tied by v = (x_t − x0) / σ, so a sample-predicting network
drives the same samplers and losses through that conversion. Li & He 2025 ("Back to Basics: Let
Denoising Generative Models Denoise") show that with high-dimensional pixel tokens, as kinema's
lossless codec makes them, predicting x0 trains far better than predicting v or ε: clean data lie
on a low-dimensional manifold a narrow network can reach, noise does not.

x-prediction has its own weakness: near σ = 0 the answer is almost the input, and a narrow network
cannot copy a high-dimensional token through its hidden width (the embedded puppet model's one-step
x̂0 at σ = 0.1 is 8 dB below the noisy input itself). ``preconditioned`` follows Karras et al. 2022
("Elucidating the Design Space of Diffusion-Based Generative Models", eq. 7 and Table 1), re-derived
for x_t = (1 − σ)·x0 + σ·ε with data of standard deviation σ_d:

    x̂0 = c_skip(σ)·x_t + c_out(σ)·F,   D(σ)² = (1 − σ)²·σ_d² + σ²,
    c_skip = (1 − σ)·σ_d² / D²,   c_out = σ / D   (EDM's σ·σ_d / D, divided by σ_d)

so it is x-prediction at σ = 1 (c_skip = 0, c_out = 1: an x-prediction model is its warm start) and a
small correction to the input near σ = 0 (c_skip → 1, c_out → 0), where the detail is already there.

The prediction is a property of the trained weights: the model card (``kinema.json``) records it
and inference follows it.
"""

from __future__ import annotations

from typing import Literal

import torch

Prediction = Literal["velocity", "sample", "preconditioned"]
PREDICTIONS: tuple[Prediction, ...] = ("velocity", "sample", "preconditioned")
SIGMA_DATA = 0.5  # EDM's σ_d for images in [−1, 1]; the model card records the one a model trained with
SIGMA_FLOOR = 0.05  # training only: the v-loss of x-prediction divides by max(σ, floor) (Li & He clip 1 − t at 0.05)


def _expand(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, ..., 1) broadcastable against ``like``."""
    return sigma.view(-1, *([1] * (like.ndim - 1))).to(like)


def check_prediction(prediction: str) -> Prediction:
    """``prediction`` if it is one of :data:`PREDICTIONS`, else ValueError."""
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction '{prediction}'; use one of {', '.join(PREDICTIONS)}")
    return prediction  # type: ignore[return-value]


def skip_scalings(sigma: torch.Tensor, sigma_data: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(c_skip, c_out) of the preconditioned parameterisation at noise levels ``sigma`` (see the module doc)."""
    d2 = (1 - sigma) ** 2 * sigma_data ** 2 + sigma ** 2
    return (1 - sigma) * sigma_data ** 2 / d2, sigma / d2.sqrt()


def to_velocity(output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor, prediction: Prediction,
                sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """The velocity the network's ``output`` stands for at noise level ``sigma`` (B,): v̂ = (x_t − x̂0) / σ."""
    if check_prediction(prediction) == "velocity":
        return output
    return (x_t - to_sample(output, x_t, sigma, prediction, sigma_data)) / _expand(sigma, x_t)


def to_sample(output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor, prediction: Prediction,
              sigma_data: float = SIGMA_DATA) -> torch.Tensor:
    """The clean sample the network's ``output`` stands for: x̂0 = x_t − σ·v̂ for velocity prediction,
    c_skip·x_t + c_out·output for preconditioned."""
    prediction = check_prediction(prediction)
    if prediction == "sample":
        return output
    if prediction == "preconditioned":
        c_skip, c_out = skip_scalings(_expand(sigma, x_t), sigma_data)
        return c_skip * x_t + c_out * output
    return x_t - _expand(sigma, x_t) * output
