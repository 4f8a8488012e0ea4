"""Design comparisons for the embedded R1 model at 32 × 32 (TRAINING.md, "Choosing the design").

Each named design is a full training run of the `puppet-32` preset (lossless pixel codec, the `puppet`
backbone, 32 × 32 / 13 frames, 1024 samples) with the design's overrides, then a held-out evaluation on
`puppet-animate-xs`.
It prints the learning curve (mean loss per span of steps) and the design's row beside the
static-reference and driving-copy baselines, in one run:

    python benchmarks/puppet_designs.py residual residual-in-place --steps 1500 --out runs/designs
    python benchmarks/puppet_designs.py my-run --set flow.loss=sample --set anchor=none

A run directory already trained is resumed (or only evaluated). About 12 minutes of training per
design of 1500 steps on 2 CPU cores, plus 3 for the evaluation.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from kinema.eval import EvalConfig, MethodOptions, run_eval
from kinema.training.config import get_config
from kinema.training.trainer import Trainer

# Every design states all the settings the preset has changed since the comparison began, so a later
# preset change cannot silently alter a row of TRAINING.md's table.
FIRST = {"layout": "spatial", "data.reference_pose": False, "flow.loss": "velocity", "flow.shift": 1.0,
         "optim.warmup_steps": 200}  # the first designs' settings (the preset when they were measured)
SELF = {**FIRST, "data.recipe": "pose"}  # DreamActor-M2's self-supervision: the reference is the clip's frame 0
IN_PLACE = {**SELF, "data.augment.bbox_normalize": False}  # the skeleton where the character is
NORMALISED = {**SELF, "data.augment.bbox_normalize": True}  # the skeleton's box fills the frame
ORACLE = {**FIRST, "data.recipe": "oracle", "data.augment.bbox_normalize": False}  # exact cross-identity triplets
X_LOSS = {**ORACLE, "flow.loss": "sample", "optim.warmup_steps": 50}
ALIGNED = {**X_LOSS, "layout": "aligned"}
REFPOSE = {**ALIGNED, "data.reference_pose": True}
SHIFT3 = {**REFPOSE, "flow.shift": 3.0}  # = the current `puppet-32` preset
DESIGNS: dict[str, dict] = {
    # x-prediction, the output read as the clip itself (no anchor)
    "direct": {**NORMALISED, "anchor": "none"},
    "direct-x-loss": {**NORMALISED, "anchor": "none", "flow.loss": "sample"},
    # the residual over the reference held still (anchor=reference), skeleton bbox-normalised or in place
    "residual": NORMALISED,
    "residual-in-place": IN_PLACE,
    "residual-x-loss": {**NORMALISED, "flow.loss": "sample"},
    "residual-motion-weight": {**IN_PLACE, "flow.motion_weight": 20.0},
    # in-context reconstruction mixed in (the driving half is the clip's RGB, the reference blank)
    "residual-copy-mix": {**IN_PLACE, "data.copy_fraction": 0.25},
    "direct-copy-mix": {**IN_PLACE, "data.copy_fraction": 0.25, "anchor": "none"},
    # exact cross-identity triplets: the reference in another pose, as at inference
    "oracle-residual-in-place": ORACLE,
    "oracle-direct-in-place": {**ORACLE, "anchor": "none"},
    "oracle-residual-x-loss": X_LOSS,
    # the skeleton concatenated along channels at each token (DreamActor-M2's "alternative 1")
    "oracle-aligned-x-loss": ALIGNED,
    # and the reference's own skeleton as driving frame 0, beside the reference it describes
    "oracle-aligned-refpose": REFPOSE,
    # and σ shifted towards noise (shift 3: 39 % of samples at σ ≥ 0.8, against 8 %), where the skeleton decides
    "oracle-aligned-refpose-shift3": SHIFT3,
    # the same on 4 × 4-pixel tokens (stride-2 codec) instead of 8 × 8
    "oracle-aligned-refpose-s2": {**SHIFT3, "model": "puppet-s2"},
}
METRICS = ("psnr", "psnr_char", "ssim", "ssim_char", "kp_pck_body", "kp_err_body")
SPAN = 300


def parse_sets(pairs: list[str]) -> dict:
    """``key.sub=value`` pairs (JSON values where they parse) as flat overrides."""
    out = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def nest(flat: dict) -> dict:
    """``{"a.b": 1}`` → ``{"a": {"b": 1}}`` (get_config's override form)."""
    out: dict = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def learning_curve(run: Path) -> str:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    last = max(step for step, _ in losses)
    spans = [(a, min(a + SPAN, last)) for a in range(0, last, SPAN)]
    return "  ".join(f"{a + 1}–{b}: {statistics.mean(v for s, v in losses if a < s <= b):.3f}" for a, b in spans)


def mean(results: dict, method: str, metric: str) -> float:
    values = [c["scores"][method].get(metric) for c in results["cases"]]
    values = [v for v in values if v is not None]
    return sum(values) / len(values)


def run_design(name: str, flat: dict, args: argparse.Namespace) -> None:
    config = get_config("puppet-32", **nest({"steps": args.steps, **flat}))
    run = Path(args.out) / name
    Trainer(config, run, resume=True, progress=False).train()
    results = run_eval(EvalConfig("puppet-animate-xs", "r1-pose", args.cases,
                                  MethodOptions(model=str(run / "export" / "model"), steps=20, guidance=1.0)),
                       run / "eval", progress=False)
    print(f"\n{name}: {json.dumps(flat)}\n  loss  {learning_curve(run)}")
    print(f"  {'':22}" + "".join(f"{m[:10]:>11}" for m in METRICS))
    for method in ("r1-pose", "static-reference", "driving-copy"):
        label = name if method == "r1-pose" else method
        print(f"  {label:22}" + "".join(f"{mean(results, method, m):11.3f}" for m in METRICS), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("designs", nargs="+", help=f"names from {sorted(DESIGNS)}, or a new name with --set")
    parser.add_argument("--set", action="append", default=[], help="extra override key=value (applies to every design)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--cases", type=int, default=22)
    parser.add_argument("--out", default="runs/designs")
    args = parser.parse_args()
    torch.set_num_threads(2)
    extra = parse_sets(args.set)
    for name in args.designs:
        if name not in DESIGNS and not extra:
            parser.error(f"unknown design {name!r}: pick from {sorted(DESIGNS)} or give --set overrides")
        run_design(name, {**DESIGNS.get(name, {}), **extra}, args)


if __name__ == "__main__":
    main()
