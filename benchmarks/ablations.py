"""Recipe ablations at reduced puppet scale (32x32, 9 frames): SCAIL-2's environment switch,
mode-specific RoPE and binding slots, DreamActor-M2's pose augmentation, and end-to-end vs pose-based.

    python benchmarks/ablations.py [--steps 2000] [--cases 22] [--out runs/ablations] [--threads 2] [--variants a,b]

Every variant trains ``--steps`` steps at 32x32 / 9 frames on 256 puppet samples (batch 8, EMA 0.999,
the same seed and data order), then is scored by ``kinema eval`` on the held-out ``-xs`` benchmarks
(32x32 / 9 frames) with its baselines. R2 variants (the ``puppet-r2`` preset, lr 2e-4) and ``pose``
warm-start from the embedded pose model; the ``r1-*`` runs train from scratch (``puppet`` preset,
lr 5e-4), since the embedded model already learned with augmentation on self-supervised data:

    full              R2: environment switch, mode-specific RoPE, binding slots; animate:replace 3:1
    no-switch         r2.switch=false (the masks' white environment channel stays empty)
    no-mode-rope      r2.mode_rope=false (replacement uses the animation RoPE coordinates)
    multi             R2 with two bound characters per sample (crossing / overlapping subjects)
    multi-no-binding  the same without binding slots (r2.binding=false: every character in one colour)
    pose              recipe R1 (DreamActor-M2 pose skeleton), the R2 variants' optimiser
    r1-augment        R1 from scratch with pose augmentation (bone scaling, bbox normalisation)
    r1-no-augment     the same without (bone_scale_prob=0, bbox_normalize=false)
    r1-oracle         R1 from scratch on the puppet world's exact cross-identity triplets (data.recipe=oracle)

Printed: each benchmark's metrics per variant and baseline, every ablation as a delta against its
reference, and end-to-end (full) vs pose-based (pose) on the hand-detail and occlusion motions
(hand_sign; clap, spin, arms_crossed) and on the rest. ``bone_err`` is body shape: the relative
bone-length error of the output's estimated keypoints against the target's (the reference
character's proportions); driving-copy shows how far the driving body differs. Keypoint metrics
at 32x32 are coarse (on puppet-animate-xs the exact target itself scores PCK body 0.58 and bone
error 0.36), so read them as relative.
Both steps resume: training from its latest checkpoint, evaluation from its scored cases; each
variant's equivalent ``kinema train`` / ``kinema eval`` commands are printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from kinema.eval import EvalConfig, MethodOptions, run_eval
from kinema.eval.compare import compare
from kinema.io import atomic_path
from kinema.training.config import get_config
from kinema.training.trainer import Trainer

DATA = {"size": [32, 32], "frames": 9, "samples": 256}
R2_MODES = ("animate", "replace")
VARIANTS: dict[str, tuple[str, dict, tuple[str, ...]]] = {  # name: (preset, overrides, benchmark modes)
    "full": ("puppet-r2", {}, R2_MODES),
    "no-switch": ("puppet-r2", {"r2": {"switch": False}}, R2_MODES),
    "no-mode-rope": ("puppet-r2", {"r2": {"mode_rope": False}}, R2_MODES),
    "multi": ("puppet-r2", {"r2": {"characters": 2, "replace_fraction": 0.0}}, ("multi",)),
    "multi-no-binding": ("puppet-r2", {"r2": {"characters": 2, "replace_fraction": 0.0, "binding": False}}, ("multi",)),
    "pose": ("puppet", {"model": "embedded", "optim": {"lr": 2e-4, "warmup_steps": 100}}, ("animate",)),
    "r1-augment": ("puppet", {"data": {"recipe": "pose", "augment": {"bbox_normalize": True}}}, ("animate",)),
    "r1-no-augment": ("puppet", {"data": {"recipe": "pose", "augment": {"bone_scale_prob": 0.0, "bbox_normalize": False}}},
                      ("animate",)),
    "r1-oracle": ("puppet", {"data": {"recipe": "oracle", "augment": {"bbox_normalize": True}}}, ("animate",)),
}
ABLATIONS = {"no-switch": "full", "no-mode-rope": "full", "multi-no-binding": "multi", "r1-no-augment": "r1-augment",
             "r1-oracle": "r1-augment"}
METRICS = {
    "animate": ("psnr", "psnr_char", "ssim", "ssim_char", "kp_pck_body", "kp_err_body", "bone_err", "warp_error"),
    "replace": ("psnr", "psnr_char", "psnr_bg", "ssim", "ssim_char", "kp_pck_body", "warp_error"),
    "multi": ("psnr", "psnr_char", "ssim", "ssim_char", "kp_pck_body", "binding_acc", "warp_error"),
}
LABEL = 30  # width of the row labels
SKELETON_HARD = ("hand_sign", "clap", "spin", "arms_crossed")  # hand detail and self-occlusion


def overrides(name: str, steps: int) -> dict:
    preset, extra, _ = VARIANTS[name]
    base = {"steps": steps, "data": dict(DATA), "log_every": 10, "checkpoint_every": 250}
    for key, value in extra.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


def flags(values: dict, prefix: str = "") -> list[str]:
    """``--set`` arguments equivalent to a nested override dict."""
    out = []
    for key, value in values.items():
        if isinstance(value, dict):
            out += flags(value, f"{prefix}{key}.")
        else:
            out.append(f"--set {prefix}{key}={json.dumps(value, separators=(',', ':'))}")
    return out


def train(name: str, steps: int, out: Path) -> Path:
    preset, _, _ = VARIANTS[name]
    values = overrides(name, steps)
    print(f"[{name}] kinema train --preset {preset} --out {out / name} {' '.join(flags(values))}", flush=True)
    config = get_config(preset, **values)
    result = Trainer(config, out / name, resume=True, progress=False).train()
    return result.run.export / "model"


def evaluate(name: str, model: Path, mode: str, args: argparse.Namespace) -> dict:
    method = "r1-pose" if VARIANTS[name][0] == "puppet" else "r2"
    bench, where = f"puppet-{mode}-xs", args.out / "eval" / f"{name}-{mode}"
    print(f"[{name}] kinema eval --benchmark {bench} --method {method} --model {model} --cases {args.cases} "
          f"--steps {args.sample_steps} --guidance 1 --out {where}", flush=True)
    options = MethodOptions(model=str(model), steps=args.sample_steps, guidance=1.0)
    return run_eval(EvalConfig(bench, method, args.cases, options), where, progress=False)


def mean(results: dict, method: str, metric: str) -> float | None:
    """Mean of ``metric`` over the cases; None when undefined."""
    values = [c["scores"][method].get(metric) for c in results["cases"]]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def header(metrics: tuple[str, ...]) -> str:
    return "".join(f"{m[:9]:>10}" for m in metrics)


def fmt(value: float | None) -> str:
    return f"{'n/a':>9}" if value is None else f"{value:9.3f}"


def table(mode: str, rows: dict[str, tuple[dict, str]]) -> list[str]:
    """Metric table of one benchmark: ``rows`` = label -> (results, method)."""
    metrics = METRICS[mode]
    lines = [f"\n{'puppet-' + mode + '-xs':<{LABEL}}" + header(metrics)]
    for label, (results, method) in rows.items():
        lines.append(f"  {label:<{LABEL - 2}}" + " ".join(fmt(mean(results, method, m)) for m in metrics))
    return lines


def report(results: dict[tuple[str, str], dict]) -> list[str]:
    lines = []
    for mode in ("animate", "replace", "multi"):
        runs = {name: r for (name, m), r in results.items() if m == mode}
        if not runs:
            continue
        first = next(iter(runs.values()))
        rows = {name: (r, r["method"]) for name, r in runs.items()}
        rows.update({b: (first, b) for b in first["methods"] if first["kinds"][b] != "model"})  # + the exact target
        lines += table(mode, rows)
        for ablation, ref in ABLATIONS.items():
            if ablation in runs and ref in runs:
                lines.append(delta_row(f"Δ {ablation} − {ref}", runs[ref], runs[ablation], METRICS[mode]))
    if ("full", "animate") in results and ("pose", "animate") in results:
        lines += end_to_end_vs_pose(results[("pose", "animate")], results[("full", "animate")])
    lines.append("(Δ = paired mean difference over shared cases; * = sign test p < 0.05, kinema eval compare)")
    return lines


def delta_row(label: str, a: dict, b: dict, metrics: tuple[str, ...]) -> str:
    """B − A per metric (``kinema eval compare``), significant differences starred."""
    diffs = compare(a, b)["metrics"]
    cells = []
    for m in metrics:
        d = diffs.get(m, {})
        delta = d.get("delta")
        cells.append(f"{'n/a':>8} " if delta is None else f"{delta:+8.3f}{'*' if d['significant'] else ' '}")
    return f"  {label:<{LABEL - 2}}" + " ".join(cells)


def only(results: dict, motions: tuple[str, ...] | None) -> dict:
    """``results`` restricted to the cases of ``motions`` (None: all)."""
    return {**results, "cases": [c for c in results["cases"] if motions is None or c["motion"] in motions]}


def end_to_end_vs_pose(pose: dict, e2e: dict) -> list[str]:
    metrics = METRICS["animate"]
    rest = tuple(sorted({c["motion"] for c in e2e["cases"]} - set(SKELETON_HARD)))
    lines = ["\nend-to-end (full, r2) − pose-based (pose, r1-pose) on puppet-animate-xs", " " * LABEL + header(metrics)]
    for label, motions in (("hands + occlusion", SKELETON_HARD), ("other motions", rest), ("all", None)):
        a, b = only(pose, motions), only(e2e, motions)
        if a["cases"]:
            lines.append(delta_row(f"{label} ({len(a['cases'])})", a, b, metrics))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps per variant")
    parser.add_argument("--cases", type=int, default=22, help="held-out cases per benchmark")
    parser.add_argument("--sample-steps", type=int, default=20, help="denoising steps")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    parser.add_argument("--out", type=Path, default=Path("runs/ablations"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = [v for v in args.variants.split(",") if v]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    results = {}
    for name in names:
        model = train(name, args.steps, args.out)
        for mode in VARIANTS[name][2]:
            results[(name, mode)] = evaluate(name, model, mode, args)
    text = "\n".join(report(results))
    print(text)
    with atomic_path(args.out / "summary.txt") as tmp:
        tmp.write_text(text + "\n")


if __name__ == "__main__":
    main()
