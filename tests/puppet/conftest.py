import pytest
import torch

from kinema.puppet import Actor, SceneSpec, make_motion, sample_identity

torch.set_num_threads(1)


@pytest.fixture
def solo():
    """A one-actor scene builder: solo(family, motion, seed, size)."""
    def build(family="humanoid", motion="idle", seed=0, size=(64, 64), frames=9, depth=0.1):
        return SceneSpec(size, (Actor(sample_identity(seed, family), make_motion(motion, frames, seed), (0.5, 0.5), depth),), seed)
    return build
