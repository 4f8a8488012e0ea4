"""Recipe R3 on held-out ``puppet-world`` cases against its baselines (issue 21), in one run.

    python benchmarks/world_eval.py --model DIR [--benchmark puppet-world] [--cases 24] [--frames 17] [--steps N]

Each case's first clip, cut to ``--frames`` (1 + 4k), is generated or built by:

* ``model``: recipe R3 (:meth:`kinema.pipelines.anix.WorldAnimator.generate`) given the exact scene video S, the
  anchor box in every frame, the four character views and AniX's prompt for the clip's action: what
  ``kinema world`` gives it, without re-rendering the scene;
* ``scene-only``: S itself (the character missing);
* ``paste``: S with the front view's character (cut from its plain background) scaled into the anchor box;
* ``target``: V, the ceiling.

Metrics against V: PSNR and SSIM over the frame and over the character's silhouette, appearance (the colours
under the silhouette against the front view's character), and PCK / keypoint error of the body (the puppet
estimator on the output against V's exact keypoints). It prints each method's mean with its 95 % bootstrap
interval, then model − baseline with the paired interval and the cases above / below zero.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from kinema.eval.baselines import mask_box, paste_sprite
from kinema.eval.metrics import appearance_similarity, keypoint_scores, psnr, ssim
from kinema.eval.scoring import pose_estimator
from kinema.eval.stats import bootstrap_ci, paired_difference
from kinema.pipelines.anix import WorldAnimator
from kinema.pipelines.inputs import to_frames
from kinema.pipelines.models import sampler_for
from kinema.recipes.anix import action_text
from kinema.world.benchmark import get_world_benchmark, render_case
from kinema.world.tuples import WorldTuple

METRICS = ("psnr", "psnr_char", "ssim", "ssim_char", "appearance", "kp_pck_body", "kp_err_body")
LOWER_IS_BETTER = {"kp_err_body"}
BACKGROUND_TOLERANCE = 12  # a view's pixel within this of its plain background colour is background


def front_mask(clip: WorldTuple) -> np.ndarray:
    """(H, W) the front view's character: the pixels away from the view's plain background."""
    background = np.array(clip.config.view_background)
    return np.abs(clip.views[0].astype(int) - background).max(axis=-1) > BACKGROUND_TOLERANCE


def paste_front_view(clip: WorldTuple, frames: int) -> np.ndarray:
    """S with the front view's character scaled into the anchor box, bottom-centred, in every frame."""
    out, front, alpha = clip.scene_video[:frames].copy(), clip.views[0], front_mask(clip)
    cut, box = mask_box(alpha), mask_box(clip.anchor)
    if cut is not None and box is not None:
        x0, y0, x1, y1 = cut
        for frame in out:
            paste_sprite(frame, front[y0:y1, x0:x1], alpha[y0:y1, x0:x1], box)
    return out


def generate(animator: WorldAnimator, clip: WorldTuple, frames: int, steps: int | None, seed: int) -> np.ndarray:
    views = animator.views(list(clip.views), clip.config.size, [])
    box = torch.from_numpy(clip.anchor).float()
    sampler = sampler_for(animator.card, steps)
    latents = animator.generate(views, clip.scene_video[:frames], box, None, action_text(clip.plan.action), sampler, seed)
    return to_frames(animator.components.codec.decode(latents))


def score(output: np.ndarray, clip: WorldTuple, frames: int, estimator) -> dict[str, float]:
    target, char = clip.video[:frames], clip.masks[:frames]
    keypoints = clip.keypoints.frames(slice(frames))
    scores = {"psnr": psnr(output, target), "psnr_char": psnr(output, target, char), "ssim": ssim(output, target),
              "ssim_char": ssim(output, target, char),
              "appearance": appearance_similarity(output, char, clip.views[0], front_mask(clip))}
    kp = keypoint_scores(estimator(output).keypoints, (keypoints,))
    return {**scores, "kp_pck_body": kp["kp_pck_body"], "kp_err_body": kp["kp_err_body"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="An R3 model directory (kinema train --preset ...-r3), or a preset.")
    parser.add_argument("--benchmark", default="puppet-world")
    parser.add_argument("--cases", type=int, default=24)
    parser.add_argument("--frames", type=int, default=17, help="Frames per clip scored (1 + 4k; the model's card's).")
    parser.add_argument("--steps", type=int, default=None, help="Sampling steps (default: the model card's).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.frames % 4 != 1:
        parser.error("--frames must be 1 + 4k")
    benchmark = get_world_benchmark(args.benchmark)
    animator = WorldAnimator.load(args.model)
    estimator, why = pose_estimator("humanoid")
    if estimator is None:
        raise SystemExit(why)
    results: dict[str, list[dict[str, float]]] = {m: [] for m in ("model", "scene-only", "paste", "target")}
    for spec in benchmark.case_specs(args.cases):
        clip = render_case(benchmark, spec).clips[0]
        frames = min(args.frames, len(clip.video) - (len(clip.video) - 1) % 4)
        outputs = {"model": generate(animator, clip, frames, args.steps, args.seed),
                   "scene-only": clip.scene_video[:frames], "paste": paste_front_view(clip, frames),
                   "target": clip.video[:frames]}
        for method, output in outputs.items():
            results[method].append(score(output, clip, frames, estimator))
        print(f"{spec.id} {clip.plan.action:14s} " + " ".join(f"{results['model'][-1][m]:.3f}" for m in METRICS), flush=True)
    print(f"\n{'method':12s} " + " ".join(f"{m:>24s}" for m in METRICS))
    for method, rows in results.items():
        cells = []
        for m in METRICS:
            ci = bootstrap_ci([r[m] for r in rows])
            cells.append(f"{ci['mean']:.3f} [{ci['ci95'][0]:.3f}, {ci['ci95'][1]:.3f}]" if ci["mean"] is not None else "-")
        print(f"{method:12s} " + " ".join(f"{c:>24s}" for c in cells))
    for baseline in ("scene-only", "paste"):
        print(f"\nmodel − {baseline} (paired, 95 % interval, cases above / below zero; lower is better for kp_err):")
        for m in METRICS:
            d = paired_difference([r[m] for r in results[baseline]], [r[m] for r in results["model"]])
            if d["delta"] is not None:
                print(f"  {m:12s} {d['delta']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] {d['wins']}/{d['losses']}")


if __name__ == "__main__":
    main()
