from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

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


def random_media(root: Path, frames: int, side: int) -> Path:
    """``root`` holding driving.mp4 (``frames`` random side × side frames) and reference.png, for CLI tests."""
    from kinema.io import write_video

    rng = np.random.default_rng(0)
    write_video(root / "driving.mp4", rng.integers(0, 255, (frames, side, side, 3), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(root / "reference.png")
    return root
