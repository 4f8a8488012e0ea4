"""Where the embedded model loses quality: the DiT's one-step x0 estimates, per noise level.

For held-out self-supervised samples (the training recipe with an unseen data seed) it prints, per
noise level σ, the PSNR of the DiT's one-step clean-sample estimate x̂0 (character half, decoded by
the model's codec) against the clip — over all pixels, over the still ones (where the clip equals the
reference: the scene the model should copy) and over the moving ones (the character) — beside the codec's own round trip (the ceiling: lossless for the
pixel codec) and the static reference (the reference frame held still, the baseline to beat). If x̂0
at small σ is far above what sampling gives, the sampler is short; if it is low, the DiT is. Below
σ = 1 it also prints the noisy input itself, x_t / (1 − σ): an x̂0 below it throws away detail the
input already holds (what the preconditioned prediction's skip path keeps).

    python benchmarks/embedded_diagnosis.py [--model DIR] [--samples 4]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from kinema.eval.metrics import psnr
from kinema.pipelines.dreamactor_m2 import Animator
from kinema.pipelines.inputs import to_frames
from kinema.pipelines.models import EMBEDDED, model_card
from kinema.recipes import dreamactor_m2 as r1
from kinema.sampling.prediction import to_sample
from kinema.training.config import config_from_dict
from kinema.training.data import encode_sample, make_sample

SIGMAS = (1.0, 0.7, 0.4, 0.1, 0.03)
STILL_LEVELS = 2  # a pixel is still where the clip differs from the reference frame by under 2 of 255 levels
HELD_OUT_DATA_SEED = 777  # the embedded model trained on data seed 1


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=EMBEDDED)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(2)
    animator = Animator.load(args.model)
    components, codec = animator.components, animator.components.codec
    data = dataclasses.replace(config_from_dict(model_card(args.model)["train_config"]).data, seed=HELD_OUT_DATA_SEED)
    layout = animator.card.get("layout", "spatial")
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for index in range(args.samples):
        sample = make_sample(index, data)
        encoded = encode_sample(components, sample, layout)
        condition, text, x0 = (encoded[k][None].float() for k in ("condition", "text", "x0"))
        context = encoded["context"][None].float() if "context" in encoded else None
        inputs = r1.R1Inputs(layout, condition, context, None, int(encoded["character_width"]))

        reference = to_frames(codec.decode(r1.character_latents(inputs, r1.anchor(inputs))))
        still = np.abs(sample.target.astype(int) - reference.astype(int)).max(-1) < STILL_LEVELS  # (T, H, W)

        def score(latents: torch.Tensor) -> tuple[float, float, float]:
            frames = to_frames(codec.decode(r1.character_latents(inputs, latents)))
            return psnr(frames, sample.target), psnr(frames, sample.target, still), psnr(frames, sample.target, ~still)

        rows.setdefault("codec round trip (exact x0)", []).append(score(x0))
        rows.setdefault("static reference", []).append(score(r1.anchor(inputs)))
        anchor = r1.anchor(inputs) if animator.anchored else torch.zeros_like(x0)  # what the diffusion is measured from
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(index))
        for sigma in SIGMAS:
            s = torch.tensor([sigma])
            x_t = (1 - sigma) * (x0 - anchor) + sigma * noise
            out = r1.predict(components.transformer, inputs, x_t, s * 1000, text)
            rows.setdefault(f"DiT x0 estimate, sigma {sigma:.2g}", []).append(
                score(anchor + to_sample(out, x_t, s, animator.prediction, animator.sigma_data)))
            if sigma < 1:
                rows.setdefault(f"noisy input itself, sigma {sigma:.2g}", []).append(score(anchor + x_t / (1 - sigma)))
    print(f"{args.samples} held-out samples (data seed {HELD_OUT_DATA_SEED}), character half; PSNR dB vs the clip")
    print(f"{'':36s} {'all':>6s} {'still':>6s} {'moving':>6s}")
    for name, values in rows.items():
        print(f"{name:36s} " + " ".join(f"{v:6.2f}" for v in np.nanmean(np.array(values), 0)))


if __name__ == "__main__":
    main()
