"""Flow-matching sampling against the analytic velocity of a point mass."""

import pytest
import torch

from kinema.sampling import SamplerConfig, classifier_free_guidance, sample


@pytest.mark.parametrize("scheduler", ["euler", "unipc"])
def test_exact_velocity_reaches_the_data_point(scheduler):
    x0 = torch.randn(1, 4, 2, 3, 3, generator=torch.Generator().manual_seed(0))

    def velocity(x, t):  # x_t = (1-σ) x0 + σ ε  =>  v = ε − x0 = (x_t − x0) / σ
        sigma = (t / 1000).view(-1, 1, 1, 1, 1)
        return (x - x0) / sigma

    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    out = sample(velocity, noise, SamplerConfig(scheduler=scheduler, steps=8, guidance=1.0), progress=False)
    # UniPC's timesteps are integers, so σ = t / 1000 is rounded: a small, bounded error.
    torch.testing.assert_close(out, x0, atol=1e-4 if scheduler == "euler" else 5e-3, rtol=0)
    assert (out - x0).abs().max() < 0.01 * (noise - x0).abs().max()


def test_guidance_formula():
    cond, uncond = (lambda x, t: torch.full_like(x, 3.0)), (lambda x, t: torch.full_like(x, 1.0))
    guided = classifier_free_guidance(cond, uncond, 2.5)
    assert torch.equal(guided(torch.zeros(2), torch.zeros(1)), torch.full((2,), 1.0 + 2.5 * 2.0))
    assert classifier_free_guidance(cond, uncond, 1.0) is cond


@pytest.mark.parametrize("field,value", [("steps", 0), ("guidance", -1.0), ("flow_shift", 0.0), ("scheduler", "ddim")])
def test_absurd_sampler_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field if field != "scheduler" else "scheduler"):
        SamplerConfig(**{field: value})
