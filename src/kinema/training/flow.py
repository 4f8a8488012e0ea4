"""The rectified-flow objective (SPEC "Training"): x_t = (1 − σ)·x0 + σ·ε, target v = ε − x0."""

from __future__ import annotations

import torch

from kinema.training.config import FlowConfig

NUM_TRAIN_TIMESTEPS = 1000  # Wan / diffusers flow schedulers: timestep = 1000 σ


def sample_sigmas(batch: int, config: FlowConfig, generator: torch.Generator) -> torch.Tensor:
    """(B,) σ from the shifted logit-normal: u ~ N(mean, std), s = sigmoid(u), σ = k·s / (1 + (k − 1)·s)."""
    u = torch.randn(batch, generator=generator) * config.logit_std + config.logit_mean
    s = torch.sigmoid(u)
    return config.shift * s / (1 + (config.shift - 1) * s)


def noisy_latents(x0: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t (B, C, F, H, W) and the velocity target ε − x0."""
    s = sigmas.view(-1, *([1] * (x0.ndim - 1))).to(x0)
    return (1 - s) * x0 + s * noise, noise - x0


def flow_loss(prediction: torch.Tensor, target: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """Mean squared error per sample (B,), over the first ``width`` latent columns if given."""
    if width is not None:
        prediction, target = prediction[..., :width], target[..., :width]
    return (prediction.float() - target.float()).pow(2).flatten(1).mean(1)
