"""The puppet VAE trainer: steps lower the loss, the saved directory loads with its latent stats."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLWan

from kinema.backbone.config import VAEConfig
from kinema.errors import KinemaInputError
from kinema.training.autoencoder import PRESETS, build_vae, sample_batch, save, set_latent_stats, train, vae_loss

SMALL_VAE = VAEConfig(base_dim=4, z_dim=16, dim_mult=(1, 2, 2), num_res_blocks=1, temperal_downsample=(True, True))


def test_steps_lower_the_loss_on_a_fixed_batch():
    config = replace(PRESETS["tiny"], steps=8, lr=3e-3, warmup=1)
    torch.manual_seed(0)
    vae = build_vae(SMALL_VAE)
    x = sample_batch(np.random.default_rng(0), 0, config)  # (2, 3, 5, 16, 32) composites
    assert x.shape == (2, 3, 5, 16, 32) and x.min() >= -1 and x.max() <= 1
    before = vae_loss(vae, x, config)[1]["l1"]
    opt = torch.optim.Adam(vae.parameters(), lr=config.lr)
    for _ in range(config.steps):
        loss, _ = vae_loss(vae, x, config)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert vae_loss(vae, x, config)[1]["l1"] < 0.8 * before


def test_odd_steps_train_on_the_halves():
    x = sample_batch(np.random.default_rng(0), 1, PRESETS["tiny"])
    assert x.shape == (4, 3, 5, 16, 16)


def test_saved_directory_loads_with_latent_stats(tmp_path):
    config = PRESETS["tiny"]
    vae = train(replace(config, steps=1), build_vae(SMALL_VAE), log=lambda _: None)
    out = save(vae, tmp_path / "vae", config)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "diffusion_pytorch_model.safetensors", "train_config.json"]
    loaded = AutoencoderKLWan.from_pretrained(out)
    assert len(loaded.config.latents_mean) == 16 and len(loaded.config.latents_std) == 16
    assert loaded.config.latents_mean == vae.config.latents_mean and min(loaded.config.latents_std) > 0
    for a, b in zip(vae.state_dict().values(), loaded.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert not list(tmp_path.glob(".vae*"))  # no temp or old directories left behind


def test_latent_stats_normalise_training_latents():
    config = PRESETS["tiny"]
    torch.manual_seed(0)
    vae = build_vae(SMALL_VAE).eval()
    set_latent_stats(vae, np.random.default_rng(1), replace(config, stats_clips=4))
    with torch.no_grad():
        z = vae.encode(sample_batch(np.random.default_rng(1), 0, config)).latent_dist.mode()
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    normalised = (z - mean) / std
    assert normalised.abs().mean() < 3.0 and torch.isfinite(normalised).all()


@pytest.mark.parametrize("bad", [{"frames": (4,)}, {"steps": 0}, {"size": (10, 10)}])
def test_bad_config_is_a_clear_error(bad):
    with pytest.raises(KinemaInputError):
        replace(PRESETS["tiny"], **bad)


def test_static_rows_repeat_frame_zero_and_their_drift_is_penalised():
    config = replace(PRESETS["tiny"], frames=(13,), static_frac=0.5, consistency_weight=1.0)
    x = sample_batch(np.random.default_rng(0), 0, config)  # (2, 3, 13, 16, 32): row 0 static
    assert torch.equal(x[0], x[0, :, :1].expand_as(x[0])) and not torch.equal(x[1], x[1, :, :1].expand_as(x[1]))
    torch.manual_seed(0)
    vae = build_vae(SMALL_VAE)
    parts = vae_loss(vae, x, config)[1]
    assert parts["drift"] > 0  # an untrained causal encoder gives identical groups different latents
    assert parts["loss"] == pytest.approx(parts["l1"] + parts["mse"] + 1e-4 * parts["kl"] + parts["drift"], rel=1e-5)


def test_cli_trains_a_fresh_vae_of_the_given_width(tmp_path):
    from kinema.training.autoencoder import main

    assert main(["--preset", "tiny", "--steps", "1", "--base-dim", "4", "--threads", "1", "--out", str(tmp_path / "v")]) == 0
    assert AutoencoderKLWan.from_pretrained(tmp_path / "v").config.base_dim == 4
    with pytest.raises(SystemExit) as exit_:
        main(["--preset", "tiny", "--base-dim", "4", "--init", str(tmp_path / "v"), "--out", str(tmp_path / "w")])
    assert exit_.value.code == 2 and not (tmp_path / "w").exists()
