"""Prototype (issue 15): a pixel-space detailer head after the embedded model's DiT, fine-tuned and evaluated.

The embedded model's limit (TRAINING.md, "Where it falls short") is its output: each 256-wide token is mapped
linearly to 768 pixel values (8 × 8 pixels × 4 frames × 3 colours), so no token can hold more than a
256-dimensional subspace of detail. The head follows DiP / PixNerd (pixel-space diffusion with a light
per-pixel decoder after the transformer): the DiT's last hidden state (the input of ``proj_out``) gives 16
features per pixel (a linear map, plus a learned embedding of the pixel's place in its token), which are
concatenated with the pixels of the DiT's x̂0 (+ the anchor), the noisy input, the reference held still, the
driving skeleton and σ, and 3 × 3 convolutions (by default two hidden ones, 32 wide; ``--width`` and
``--dilations`` change them, ``--dilations 1,2,4,8`` for a 35-pixel receptive field) add a correction to x̂0.
Its last layer starts at zero, so training starts from the shipped model exactly.

It is a prototype: it hooks ``kinema.recipes.dreamactor_m2.predict`` and the R1 training recipe from here,
and the head travels in the exported transformer's safetensors (``detailer.*``), read back by ``eval``.

    python benchmarks/detailer_prototype.py train runs/detailer [--steps 1500 --lr 3e-4 --width 32 --dilations 1,1]
    python benchmarks/detailer_prototype.py eval runs/detailer/export/model runs/eval-detailer [--steps 2]

``train`` fine-tunes the shipped model on its own 1024 triplets (the ``puppet`` preset, learning rate decaying
to zero over all steps) and writes the card's sampling settings (2 UniPC steps, flow shift 8, guidance 1);
``eval`` scores the held-out ``puppet-animate`` cases and prints the model's row beside both baselines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from kinema.recipes import dreamactor_m2 as r1
from kinema.training import dreamactor

FEATURES = 16
HEAD = {"width": 32, "dilations": [1, 1]}  # the head's hidden convolutions; ``--width``/``--dilations`` change it
CARD_SAMPLING = {"guidance": 1.0, "flow_shift": 8.0, "sampling_steps": 2}  # the embedded model's
METRICS = ("psnr", "psnr_char", "ssim", "ssim_char", "kp_pck_body", "kp_err_body")


def to_pixels(latents: torch.Tensor, stride: int) -> torch.Tensor:
    """Pixel-codec latents (B, 3·4·s², f, h, w) -> (B, 3, 4f, H, W), frame 0's 4 copies kept (exactly invertible)."""
    b, _, f, h, w = latents.shape
    x = latents.reshape(b, 3, 4, stride, stride, f, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, 3, f * 4, h * stride, w * stride)


def to_latents(pixels: torch.Tensor, stride: int) -> torch.Tensor:
    """Inverse of :func:`to_pixels`."""
    b, _, t, height, width = pixels.shape
    x = pixels.reshape(b, 3, t // 4, 4, height // stride, stride, width // stride, stride).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, 3 * 4 * stride * stride, t // 4, height // stride, width // stride)


class Detailer(nn.Module):
    """Per-pixel correction of x̂0 from the DiT's token features and the step's pixels (module doc)."""

    def __init__(self, hidden: int, patch: tuple[int, int, int], stride: int, width: int,
                 dilations: list[int]) -> None:
        super().__init__()
        self.patch, self.stride = patch, stride
        self.feat = nn.Linear(hidden, FEATURES)
        self.pos = nn.Parameter(torch.zeros(FEATURES, 4 * patch[0], stride * patch[1], stride * patch[2]))
        widths = [FEATURES + 13] + [width] * len(dilations)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=d, dilation=d)
                                   for a, b, d in zip(widths, widths[1:], dilations))
        self.out = nn.Conv2d(width, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, hidden: torch.Tensor, x0: torch.Tensor, noisy: torch.Tensor, anchor: torch.Tensor,
                driving: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """hidden (B, N, D) for the latent grid of x0 / noisy / anchor / driving (B, C, f, h, w); σ (B,)."""
        b, _, f, h, w = x0.shape
        grid = (f // self.patch[0], h // self.patch[1], w // self.patch[2])
        feat = self.feat(hidden.float()).transpose(1, 2).reshape(b, FEATURES, *grid)  # (B, 16, f', h', w')
        for axis, size in zip((2, 3, 4), self.pos.shape[1:]):
            feat = feat.repeat_interleave(size, axis)
        feat = feat + self.pos.repeat(1, *grid)[None]  # (B, 16, T, H, W)
        pixels = [to_pixels(x.float(), self.stride) for x in (x0 + anchor, noisy, anchor, driving)]
        t, size = pixels[0].shape[2], pixels[0].shape[-2:]
        x = torch.cat([feat, *pixels, sigma.float().view(b, 1, 1, 1, 1).expand(b, 1, t, *size)], 1)
        x = x.transpose(1, 2).flatten(0, 1)  # (B·T, 29, H, W)
        for conv in self.convs:
            x = F.gelu(conv(x))
        x = self.out(x)
        return to_latents(x.unflatten(0, (b, t)).transpose(1, 2), self.stride).to(x0.dtype)


def install(transformer: nn.Module, stride: int) -> None:
    if not hasattr(transformer, "detailer"):
        hidden = transformer.config.num_attention_heads * transformer.config.attention_head_dim
        head = Detailer(hidden, tuple(transformer.config.patch_size), stride, **HEAD).to(transformer.device)
        transformer.add_module("detailer", head)


_predict = r1.predict


def predict(transformer, inputs: r1.R1Inputs, noisy: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor):
    """``r1.predict`` plus the detailer's correction (aligned layout, anchored model)."""
    head = getattr(transformer, "detailer", None)
    if head is None:
        return _predict(transformer, inputs, noisy, timestep, text)
    captured = []
    hook = transformer.proj_out.register_forward_hook(lambda module, args, out: captured.append(args[0]))
    try:
        out = _predict(transformer, inputs, noisy, timestep, text)
    finally:
        hook.remove()
    driving = inputs.condition[:, r1.MASK_CHANNELS + out.shape[1]:]
    return out + head(captured[-1], out, noisy, r1.anchor(inputs).to(out), driving.to(out), timestep / 1000)


def _prepare(prepare):
    def with_head(self, components):
        changed = prepare(self, components)
        install(components.transformer, components.codec.spatial_stride)
        return changed
    return with_head


r1.predict = predict
dreamactor.DreamActorRecipe.prepare = _prepare(dreamactor.DreamActorRecipe.prepare)


def train(out: Path, steps: int, lr: float) -> None:
    from kinema.training.config import get_config
    from kinema.training.trainer import Trainer

    config = get_config("puppet", model="embedded", steps=steps, optim={"lr": lr, "decay_steps": steps, "warmup_steps": 50})
    Trainer(config, out, resume=(out / "checkpoints").is_dir()).train()
    card = out / "export" / "model" / "kinema.json"
    card.write_text(json.dumps({**json.loads(card.read_text()), **CARD_SAMPLING, "detailer": HEAD}, indent=2))


def evaluate(model: Path, out: Path, steps: int | None) -> None:
    from kinema.eval.methods import MethodOptions
    from kinema.eval.runner import EvalConfig, run_eval
    from kinema.pipelines import dreamactor_m2 as pipeline

    load = pipeline.Animator.load.__func__

    def load_with_head(cls, name="embedded", *args, **kwargs):
        animator = load(cls, name, *args, **kwargs)
        HEAD.update(json.loads((Path(name) / "kinema.json").read_text()).get("detailer", {}))
        transformer = animator.components.transformer
        install(transformer, animator.components.codec.spatial_stride)
        state = load_file(Path(name) / "transformer" / "diffusion_pytorch_model.safetensors")
        transformer.detailer.load_state_dict({k.removeprefix("detailer."): v.float() for k, v in state.items()
                                              if k.startswith("detailer.")})
        transformer.detailer.float()
        return animator

    pipeline.Animator.load = classmethod(load_with_head)
    results = run_eval(EvalConfig("puppet-animate", cases=16, options=MethodOptions(model=str(model), steps=steps)),
                       out, progress=False)
    print("method            " + " ".join(f"{m:>11}" for m in METRICS))
    for method in ("r1-pose", "static-reference", "driving-copy"):
        row = results["aggregates"][method]
        print(f"{method:<17} " + " ".join(f"{row[m]['mean']:11.3f}" for m in METRICS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("out", type=Path)
    t.add_argument("--steps", type=int, default=1500)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--width", type=int, default=HEAD["width"], help="the head's hidden width")
    t.add_argument("--dilations", default="1,1", help="one hidden 3 × 3 convolution per value, with that dilation")
    e = sub.add_parser("eval")
    e.add_argument("model", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--steps", type=int, default=None, help="sampling steps (default: the card's 2)")
    args = parser.parse_args()
    if args.command == "train":
        HEAD.update(width=args.width, dilations=[int(d) for d in args.dilations.split(",")])
        train(args.out, args.steps, args.lr)
    else:
        evaluate(args.model, args.out, args.steps)


if __name__ == "__main__":
    main()
