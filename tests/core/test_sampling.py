"""Flow-matching sampling against the analytic velocity of a point mass, for every prediction."""

import pytest
import torch

from kinema.sampling import SamplerConfig, classifier_free_guidance, sample
from kinema.sampling.prediction import SIGMA_DATA, skip_scalings, to_sample, to_velocity

X0 = torch.randn(1, 4, 2, 3, 3, generator=torch.Generator().manual_seed(0))
NOISE = torch.randn(X0.shape, generator=torch.Generator().manual_seed(1))


def oracle(prediction):
    """A perfect network for the point mass X0: it outputs X0 itself, v = (x_t − X0) / σ, or the
    preconditioned F = (X0 − c_skip·x_t) / c_out."""
    def output(x, sigma):
        s = sigma.view(-1, 1, 1, 1, 1)
        if prediction == "preconditioned":
            c_skip, c_out = skip_scalings(s, SIGMA_DATA)
            return (X0 - c_skip * x) / c_out
        return X0.expand_as(x) if prediction == "sample" else (x - X0) / s
    return output


@pytest.mark.parametrize("scheduler", ["euler", "unipc"])
@pytest.mark.parametrize("prediction", ["velocity", "sample", "preconditioned"])
def test_exact_model_reaches_the_data_point(scheduler, prediction):
    net = oracle(prediction)

    def velocity(x, t, sigma):
        return to_velocity(net(x, sigma), x, sigma, prediction)

    out = sample(velocity, NOISE, SamplerConfig(scheduler=scheduler, steps=8, guidance=1.0), progress=False)
    torch.testing.assert_close(out, X0, atol=1e-4, rtol=0)


@pytest.mark.parametrize("sigma", [1.0, 0.5, 0.03])
def test_oracle_sample_gives_the_exact_velocity(sigma):
    s = torch.tensor([sigma])
    x_t = (1 - sigma) * X0 + sigma * NOISE
    torch.testing.assert_close(to_velocity(X0, x_t, s, "sample"), NOISE - X0)  # v = ε − x0
    torch.testing.assert_close(to_sample(NOISE - X0, x_t, s, "velocity"), X0)
    torch.testing.assert_close(to_velocity(oracle("preconditioned")(x_t, s), x_t, s, "preconditioned"), NOISE - X0)
    with pytest.raises(ValueError, match="prediction"):
        to_velocity(X0, x_t, s, "epsilon")


def test_preconditioning_is_x_prediction_at_pure_noise_and_the_input_near_clean():
    c_skip, c_out = skip_scalings(torch.tensor([1.0, 1e-4]), 0.2)
    torch.testing.assert_close(c_skip, torch.tensor([0.0, 1.0]), atol=1e-3, rtol=0)
    torch.testing.assert_close(c_out, torch.tensor([1.0, 0.0]), atol=1e-3, rtol=0)
    x_t = torch.randn(2, 3)
    torch.testing.assert_close(to_sample(X0.flatten()[:6].view(2, 3), x_t, torch.ones(2), "preconditioned"),
                               X0.flatten()[:6].view(2, 3))


def test_every_prediction_samples_the_same_with_a_perfect_model():
    outs = [sample(lambda x, t, s, p=p: to_velocity(oracle(p)(x, s), x, s, p), NOISE,
                   SamplerConfig(steps=6, guidance=1.0), progress=False) for p in ("velocity", "sample", "preconditioned")]
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(outs[0], outs[2], atol=1e-5, rtol=0)


def test_guidance_formula():
    cond, uncond = (lambda x, t, s: torch.full_like(x, 3.0)), (lambda x, t, s: torch.full_like(x, 1.0))
    guided = classifier_free_guidance(cond, uncond, 2.5)
    assert torch.equal(guided(torch.zeros(2), torch.zeros(1), torch.ones(1)), torch.full((2,), 1.0 + 2.5 * 2.0))
    assert classifier_free_guidance(cond, uncond, 1.0) is cond


@pytest.mark.parametrize("field,value", [("steps", 0), ("guidance", -1.0), ("flow_shift", 0.0), ("scheduler", "ddim")])
def test_absurd_sampler_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field if field != "scheduler" else "scheduler"):
        SamplerConfig(**{field: value})
