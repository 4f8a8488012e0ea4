import pytest
import torch

from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.puppet import get_preset as puppet_preset
from kinema.puppet import make_triplet


@pytest.fixture(scope="package")
def tiny():
    return build_components(get_preset("tiny"))


@pytest.fixture(scope="package")
def multi():
    """A puppet multi triplet whose references are shuffled: binding (1, 0)."""
    triplet = make_triplet("multi", 0, puppet_preset("tiny"))
    assert triplet.binding == (1, 0)
    return triplet


def conditions(batch=1, refs=2, slots=2, frames=9, size=32, seed=0):
    """Random references/driving in [-1, 1] and box masks: slot s on reference s, driving subject s."""
    g = torch.Generator().manual_seed(seed)
    references = torch.rand(batch, refs, 3, size, size, generator=g) * 2 - 1
    driving = torch.rand(batch, 3, frames, size, size, generator=g) * 2 - 1
    ref_masks = torch.zeros(batch, refs, slots, size, size)
    drv_masks = torch.zeros(batch, slots, frames, size, size)
    for s in range(slots):
        ref_masks[:, s % refs, s, 8:24, 4 + 12 * s:12 + 12 * s] = 1
        drv_masks[:, s, :, 4:28, 2 + 14 * s:14 + 14 * s] = 1
    return references, driving, ref_masks, drv_masks
