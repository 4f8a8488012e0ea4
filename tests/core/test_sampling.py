"""Flow-matching sampling against the analytic velocity of a point mass, for both predictions."""

import pytest
import torch

from kinema.sampling import SamplerConfig, classifier_free_guidance, sample
from kinema.sampling.prediction import to_sample, to_velocity

X0 = torch.randn(1, 4, 2, 3, 3, generator=torch.Generator().manual_seed(0))
NOISE = torch.randn(X0.shape, generator=torch.Generator().manual_seed(1))


def oracle(prediction):
    """A perfect network for the point mass X0: it outputs X0 itself, or v = (x_t − X0) / σ."""
    def output(x, sigma):
        return X0.expand_as(x) if prediction == "sample" else (x - X0) / sigma.view(-1, 1, 1, 1, 1)
    return output


@pytest.mark.parametrize("scheduler", ["euler", "unipc"])
@pytest.mark.parametrize("prediction", ["velocity", "sample"])
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
    with pytest.raises(ValueError, match="prediction"):
        to_velocity(X0, x_t, s, "epsilon")


def test_both_predictions_sample_the_same_with_a_perfect_model():
    outs = [sample(lambda x, t, s, p=p: to_velocity(oracle(p)(x, s), x, s, p), NOISE,
                   SamplerConfig(steps=6, guidance=1.0), progress=False) for p in ("velocity", "sample")]
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=0)


def test_guidance_formula():
    cond, uncond = (lambda x, t, s: torch.full_like(x, 3.0)), (lambda x, t, s: torch.full_like(x, 1.0))
    guided = classifier_free_guidance(cond, uncond, 2.5)
    assert torch.equal(guided(torch.zeros(2), torch.zeros(1), torch.ones(1)), torch.full((2,), 1.0 + 2.5 * 2.0))
    assert classifier_free_guidance(cond, uncond, 1.0) is cond


@pytest.mark.parametrize("field,value", [("steps", 0), ("guidance", -1.0), ("flow_shift", 0.0), ("scheduler", "ddim")])
def test_absurd_sampler_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field if field != "scheduler" else "scheduler"):
        SamplerConfig(**{field: value})
