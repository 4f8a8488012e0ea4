"""Recipe R2 samples with the model card's guidance and flow shift unless the caller gives a sampler,
and records the sampler it used (issue 18: defaults come from the model card everywhere)."""

import numpy as np

from kinema.pipelines.scail2 import ScailAnimator, ScailConfig
from kinema.sampling import SamplerConfig

CARD = {"recipe": "scail-2", "guidance": 1.0, "flow_shift": 8.0}


def replace(animator, multi, sampler=None):
    """Replace the multi triplet's subjects on its first 5 frames with ``sampler`` (None: the card's)."""
    config = ScailConfig(frames=5, bind=(1, 0), sampler=sampler)
    return animator([r.frames[0] for r in multi.references], multi.driving.frames,
                    [r.masks for r in multi.references], multi.driving.masks, config, progress=False)


def test_the_cards_guidance_and_flow_shift_are_sampled_with(tiny, multi):
    animator = ScailAnimator(tiny, card=CARD)
    result = replace(animator, multi)
    assert result.settings["sampler"] == {"scheduler": "unipc", "steps": 30, "flow_shift": 8.0, "guidance": 1.0}
    given = replace(animator, multi, SamplerConfig(steps=30, flow_shift=8.0, guidance=1.0))
    assert np.array_equal(result.frames, given.frames)
    wan = replace(animator, multi, SamplerConfig(steps=30))  # Wan's guidance 5 and shift 3 give another video
    assert wan.settings["sampler"]["guidance"] == 5.0 and not np.array_equal(result.frames, wan.frames)
