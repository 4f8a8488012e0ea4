"""Flow-matching sampling: schedulers from diffusers, a denoising loop, guidance."""

from kinema.sampling.flow import SamplerConfig, classifier_free_guidance, make_scheduler, sample

__all__ = ["SamplerConfig", "classifier_free_guidance", "make_scheduler", "sample"]
