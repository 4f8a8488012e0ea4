import pytest
import torch

from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset


@pytest.fixture(scope="module", params=["tiny-t2v", "tiny-i2v"])
def components(request):
    return build_components(get_preset(request.param))


def inputs(components, channels=None, frames=3, h=8, w=12, batch=2, seed=0):
    """Random latents, timesteps, text and (I2V) image tokens for the tiny transformer."""
    g = torch.Generator().manual_seed(seed)
    config = components.transformer.config
    x = torch.randn(batch, channels or config.in_channels, frames, h, w, generator=g)
    t = torch.tensor([500.0, 20.0][:batch])
    text = torch.randn(batch, 512, config.text_dim, generator=g)
    image = torch.randn(batch, 17, config.image_dim, generator=g) if components.is_i2v else None
    return x, t, text, image
