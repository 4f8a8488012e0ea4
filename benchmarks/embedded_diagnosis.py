"""Where the embedded model loses quality: the DiT's one-step x0 estimates versus the VAE round trip.

For held-out self-supervised samples (the training recipe with an unseen data seed) it prints, per
noise level σ, the latent MSE of the DiT's x0 estimate x̂0 = x_t − σ v̂ (character half, normalised
latents) and the PSNR of its decoded frames against the clip, next to the PSNR of decoding the exact
latent x0 (the VAE ceiling). If x̂0 at small σ decodes as well as x0 does, the DiT is not the limit.

    python benchmarks/embedded_diagnosis.py [--model DIR] [--samples 4]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from kinema.backbone.encoders import decode_latents
from kinema.backbone.segments import forward_segments
from kinema.eval.metrics import psnr
from kinema.pipelines.animate import EMBEDDED, load_model, model_card
from kinema.pipelines.inputs import to_frames
from kinema.recipes import dreamactor_m2 as r1
from kinema.training.config import config_from_dict
from kinema.training.data import encode_sample, make_sample

SIGMAS = (1.0, 0.7, 0.4, 0.1)
HELD_OUT_DATA_SEED = 777  # the embedded model trained on data seed 1


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=EMBEDDED)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(2)
    components, _ = load_model(args.model)
    transformer = components.transformer.eval()
    data = dataclasses.replace(config_from_dict(model_card(args.model)["train_config"]).data, seed=HELD_OUT_DATA_SEED)
    rows: dict[str, list[tuple[float, float]]] = {}
    for index in range(args.samples):
        sample = make_sample(index, data)
        encoded = encode_sample(components, sample, "spatial")
        condition, text, x0 = encoded["condition"][None], encoded["text"][None], encoded["x0"][None]
        width = int(encoded["character_width"])
        inputs = r1.R1Inputs("spatial", condition, None, None, x0.shape[-1])
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(index))
        rows.setdefault("VAE round trip (exact x0)", []).append(
            (0.0, psnr(to_frames(decode_latents(components, x0[..., :width])), sample.target)))
        for sigma in SIGMAS:
            x_t = (1 - sigma) * x0 + sigma * noise
            v = forward_segments(transformer, r1.segments(inputs, x_t, torch.tensor([sigma * 1000.0])), text)[0]
            x0_hat = (x_t - sigma * v)[..., :width]
            mse = float((x0_hat - x0[..., :width]).pow(2).mean())
            rows.setdefault(f"DiT x0 estimate, sigma {sigma:.1f}", []).append(
                (mse, psnr(to_frames(decode_latents(components, x0_hat)), sample.target)))
    print(f"{args.samples} held-out samples (data seed {HELD_OUT_DATA_SEED}), character half; "
          "latent MSE (normalised) / decoded PSNR dB vs the clip")
    for name, values in rows.items():
        mse, db = np.mean(values, axis=0)
        print(f"{name:32s} {mse:7.3f}  {db:6.2f}")


if __name__ == "__main__":
    main()
