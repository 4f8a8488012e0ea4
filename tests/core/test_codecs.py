"""Codecs: the lossless pixel codec is exact and lays time out as the Wan VAE does."""

import json

import pytest
import torch

from kinema.backbone.codecs import PixelCodec, PixelCodecConfig, WanVAECodec, load_codec
from kinema.backbone.components import build_codec, build_components, load_components
from kinema.backbone.config import VAEConfig, get_preset
from kinema.errors import KinemaInputError


def video(frames, size=16, seed=0):
    return torch.rand(2, 3, frames, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("stride", [2, 4, 8])
@pytest.mark.parametrize("frames", [1, 5, 9, 13, 17])
def test_round_trip_is_exact(stride, frames):
    codec = PixelCodec(PixelCodecConfig(stride))
    x = video(frames)
    z = codec.encode(x)
    assert z.shape == (2, 3 * 4 * stride ** 2, 1 + (frames - 1) // 4, 16 // stride, 16 // stride)
    torch.testing.assert_close(codec.decode(z), x, atol=1e-6, rtol=0)


def test_decode_averages_the_four_copies_of_frame_zero():
    codec = PixelCodec()
    z = codec.encode(video(5))
    z4 = z.reshape(2, 3, 4, 4, 4, 2, 4, 4).clone()  # (B, rgb, frame, dy, dx, f, h, w)
    z4[:, :, 0, :, :, 0] += 0.3
    z4[:, :, 1, :, :, 0] -= 0.3
    torch.testing.assert_close(codec.decode(z4.reshape(z.shape))[:, :, 0], codec.decode(z)[:, :, 0])


def first_latent_seeing(codec, frames=13, size=16):
    """For each input frame j: the first latent frame that changes when frame j changes."""
    with torch.no_grad():
        x = video(frames, size)
        base = codec.encode(x)
        out = []
        for j in range(frames):
            y = x.clone()
            y[:, :, j] += 0.5
            changed = (codec.encode(y) - base).abs().flatten(3).amax((0, 1, 3)) > 1e-6  # (f,)
            out.append(int(changed.nonzero()[0]))
    return out


def test_temporal_layout_matches_autoencoder_kl_wan():
    torch.manual_seed(0)
    vae = build_codec(VAEConfig(base_dim=8, z_dim=16, dim_mult=(1, 1, 1), num_res_blocks=1,
                                temperal_downsample=(True, True)))
    expected = [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]  # latent 0 = frame 0; latent j = frames 4j-3..4j
    assert first_latent_seeing(vae) == expected
    assert first_latent_seeing(PixelCodec()) == expected
    assert isinstance(vae, WanVAECodec) and vae.spatial_stride == 4


@pytest.mark.parametrize("shape,named", [((2, 3, 4, 16, 16), "1 \\+ 4k"), ((2, 3, 5, 16, 18), "multiple"),
                                         ((2, 1, 5, 16, 16), "B, 3, F")])
def test_bad_shapes_are_refused(shape, named):
    with pytest.raises(ValueError, match=named):
        PixelCodec().encode(torch.zeros(shape))
    with pytest.raises(ValueError, match="192 channels"):
        PixelCodec().decode(torch.zeros(1, 48, 2, 4, 4))
    with pytest.raises(ValueError, match="stride"):
        PixelCodecConfig(3)


def test_saved_and_loaded_with_the_model(tmp_path):
    components = build_components(get_preset("puppet"))
    components.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "codec" / "config.json").read_text()) == {
        "_class_name": "PixelCodec", "spatial_stride": 4}
    loaded = load_components(tmp_path / "m")
    assert isinstance(loaded.codec, PixelCodec) and loaded.codec.channels == 192
    assert loaded.transformer.config.out_channels == 192
    (tmp_path / "m" / "codec" / "config.json").write_text('{"_class_name": "PixelCodec", "spatial_stride": 3}')
    with pytest.raises(KinemaInputError, match="codec config"):
        load_codec(tmp_path / "m")
