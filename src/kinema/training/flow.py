"""The rectified-flow objective (SPEC "Training"): x_t = (1 − σ)·x0 + σ·ε, target v = ε − x0."""

from __future__ import annotations

import torch

from kinema.sampling.prediction import SIGMA_FLOOR, Prediction, to_sample, to_velocity
from kinema.training.config import FlowConfig

NUM_TRAIN_TIMESTEPS = 1000  # Wan / diffusers flow schedulers: timestep = 1000 σ


def sample_sigmas(batch: int, config: FlowConfig, generator: torch.Generator,
                  interval: tuple[float, float] | None = None) -> torch.Tensor:
    """(B,) σ from the shifted logit-normal: u ~ N(mean, std), s = sigmoid(u), σ = k·s / (1 + (k − 1)·s).

    ``interval`` (a Wan2.2 expert's noise range, :meth:`WanComponents.noise_interval`): the same distribution
    truncated to [low, high), drawn by its inverse CDF: σ ↦ u is monotone (s = σ / (k − (k − 1)·σ)), so
    Φ((u − mean) / std) is drawn uniformly between its values at the ends.
    """
    if interval is None:
        u = torch.randn(batch, generator=generator) * config.logit_std + config.logit_mean
    else:
        ends = torch.tensor(interval, dtype=torch.float64)
        s = ends / (config.shift - (config.shift - 1) * ends)
        cdf = torch.special.ndtr((torch.logit(s) - config.logit_mean) / config.logit_std)  # logit(0) = −inf: Φ = 0
        p = cdf[0] + (cdf[1] - cdf[0]) * torch.rand(batch, generator=generator, dtype=torch.float64)
        u = (torch.special.ndtri(p) * config.logit_std + config.logit_mean).float()
    s = torch.sigmoid(u)
    return config.shift * s / (1 + (config.shift - 1) * s)


def noisy_latents(x0: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_t (B, C, F, H, W) and the velocity target ε − x0."""
    s = sigmas.view(-1, *([1] * (x0.ndim - 1))).to(x0)
    return (1 - s) * x0 + s * noise, noise - x0


def loss_pair(output: torch.Tensor, x_t: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor,
              prediction: Prediction, config: FlowConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """What the loss compares: (v̂, ε − x0) for ``config.loss`` velocity, (x̂0, x0) for sample.

    A sample-predicting network's v-loss divides by max(σ, floor) in both terms, i.e. the x0 error
    weighted by 1 / max(σ, floor)² (Li & He 2025), so near-clean samples cannot dominate.
    """
    if config.loss == "sample":
        return to_sample(output, x_t, sigmas, prediction, config.sigma_data), x0
    if prediction == "velocity":
        return output, noise - x0
    floor = sigmas.clamp_min(SIGMA_FLOOR)
    x0_hat = to_sample(output, x_t, sigmas, prediction, config.sigma_data)
    return to_velocity(x0_hat, x_t, floor, "sample"), to_velocity(x0, x_t, floor, "sample")


MOTION_THRESHOLD = 0.05  # a latent value this far from the anchor (≈ 6 of 255 grey levels) has changed


def weight_motion(pred: torch.Tensor, target: torch.Tensor, change: torch.Tensor,
                  weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale a :func:`loss_pair` so that values where ``change`` (x0 − anchor) is non-zero count 1 + ``weight``
    times: the moving character, a small part of the frame, is what the driving signal is for."""
    scale = (1 + weight * (change.abs() > MOTION_THRESHOLD)).sqrt()
    return pred * scale, target * scale


def flow_loss(prediction: torch.Tensor, target: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """Mean squared error per sample (B,) of a :func:`loss_pair`, over the first ``width`` latent columns if given."""
    if width is not None:
        prediction, target = prediction[..., :width], target[..., :width]
    return (prediction.float() - target.float()).pow(2).flatten(1).mean(1)
