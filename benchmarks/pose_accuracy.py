"""Accuracy of the puppet keypoint estimator on held-out puppet clips, next to a mean-pose baseline.

    python benchmarks/pose_accuracy.py [--scenes 40] [--sizes 64,256] [--weights FILE] [--json OUT]

Scenes are drawn with seeds 0..scenes-1 (training uses seeds >= TRAIN_SEED_BASE): all three
families, 1-2 actors, camera motion, 17 frames. Every actor is estimated in its visible-mask box
(as the evaluation does with the target masks). Metrics over joints visible in the ground truth:
PCK@0.1 (error below 0.1 x the diagonal of the actor's ground-truth keypoint box in that frame)
and mean pixel error (at the clip's resolution), split by family and part (body, hands, head),
and separately for humanoid occlusion motions (clap, spin, arms_crossed), joints hidden in the
ground truth, and single-actor clips estimated with no box (the two-pass whole-frame path).
The baseline puts the family's mean pose (from training scenes) into the same box.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch

from kinema.pose.estimators.puppet import PuppetPoseEstimator
from kinema.pose.estimators.train_puppet import TRAIN_SEED_BASE
from kinema.pose.layouts import get_layout
from kinema.puppet import SynthConfig, make_scene, render_scene
from kinema.puppet.motions import MOTIONS

FAMILIES = ("humanoid", "quadruped", "bird")


def part_of(layout: str) -> np.ndarray:
    """(J,) part name per joint: 'head', 'hands' or 'body' (every other group)."""
    parts = np.full(get_layout(layout).num_joints, "body", dtype=object)
    for group in ("head", "hands"):
        parts[list(get_layout(layout).groups.get(group, ()))] = group
    return parts


def square_boxes(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (T, 2) and sides (T,) of the visible-mask boxes of (T, H, W) masks."""
    boxes = PuppetPoseEstimator.boxes_from_masks(masks[:, None], masks.shape)[:, 0]
    return (boxes[:, :2] + boxes[:, 2:]) / 2, np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def mean_poses(scenes: int = 60) -> dict[str, np.ndarray]:
    """Each family's mean pose in box units ((xy - box centre) / box side), from training scenes."""
    acc = defaultdict(list)
    for seed in range(scenes):
        clip = render_scene(make_scene(TRAIN_SEED_BASE + seed, SynthConfig(size=(128, 128), frames=9, families=FAMILIES, characters=(1, 1))))
        center, side = square_boxes(clip.masks[:, 0])
        acc[clip.keypoints[0].layout].append((clip.keypoints[0].xy[:, 0] - center[:, None]) / side[:, None, None])
    return {k: np.concatenate(v).mean(0) for k, v in acc.items()}


def record(rows: dict, keys: list[str], err: np.ndarray, diag: np.ndarray, parts: np.ndarray, mask: np.ndarray) -> None:
    """Add errors (T, J) of the joints in ``mask`` to ``rows[key][part]`` for every key."""
    for part in ("body", "hands", "head"):
        sel = mask & (parts == part)[None]
        if sel.any():
            for key in keys:
                rows[key][part].append(np.stack([err[sel], err[sel] / np.broadcast_to(diag[:, None], err.shape)[sel]], -1))


def evaluate(size: int, scenes: int, estimator: dict[str, PuppetPoseEstimator], means: dict[str, np.ndarray]) -> dict:
    """Errors of the estimator ('net') and the baseline ('mean') on ``scenes`` held-out scenes."""
    rows = {m: defaultdict(lambda: defaultdict(list)) for m in ("net", "mean")}
    config = SynthConfig(size=(size, size), frames=17, families=FAMILIES, characters=(1, 2), camera_prob=0.5)
    for seed in range(scenes):
        spec = make_scene(seed, config)
        clip = render_scene(spec)
        for p, (actor, kp) in enumerate(zip(spec.actors, clip.keypoints)):
            gt, vis, fam = kp.xy[:, 0], kp.visibility[:, 0] > 0, kp.layout
            diag = np.linalg.norm(np.ptp(gt, axis=1), axis=-1)  # (T,)
            center, side = square_boxes(clip.masks[:, p])
            preds = {"net": estimator[fam](clip.frames, masks=clip.masks[:, p]).keypoints.xy[:, 0],
                     "mean": center[:, None] + means[fam][None] * side[:, None, None]}
            inside = ((gt >= 0) & (gt < size)).all(-1) & (side > 0)[:, None]
            occluding = "occlusion" in MOTIONS[actor.motion.name].tags
            for method, pred in preds.items():
                err, parts = np.linalg.norm(pred - gt, axis=-1), part_of(fam)
                keys = [fam] + (["humanoid occlusion motions"] if occluding else [])
                record(rows[method], keys, err, diag, parts, vis & inside)
                record(rows[method], [f"{fam} hidden joints"], err, diag, parts, ~vis & inside)
            if len(spec.actors) == 1:
                whole = estimator[fam](clip.frames).keypoints.xy[:, 0]
                record(rows["net"], [f"{fam} no box"], np.linalg.norm(whole - gt, axis=-1), diag, part_of(fam), vis & inside)
    return rows


def summarise(rows: dict) -> dict:
    """{method: {key: {part: {pck, px, n}}}} with PCK@0.1 in percent and mean pixel error."""
    out = {}
    for method, keys in rows.items():
        out[method] = {}
        for key, parts in keys.items():
            out[method][key] = {}
            for part, chunks in parts.items():
                e = np.concatenate(chunks)
                out[method][key][part] = {"pck": float(100 * (e[:, 1] < 0.1).mean()), "px": float(e[:, 0].mean()), "n": int(len(e))}
    return out


def print_table(size: int, summary: dict) -> None:
    print(f"\n{size}x{size}: PCK@0.1 (% of joints within 0.1 x GT keypoint-box diagonal) / mean pixel error")
    print(f"{'subset':30s} {'part':6s} {'joints':>7s} {'estimator':>16s} {'mean-pose baseline':>20s}")
    for key in sorted(summary["net"]):
        for part, net in sorted(summary["net"][key].items()):
            base = summary["mean"].get(key, {}).get(part)
            base_s = f"{base['pck']:5.1f}% {base['px']:6.2f}px" if base else "-"
            print(f"{key:30s} {part:6s} {net['n']:7d} {net['pck']:6.1f}% {net['px']:6.2f}px {base_s:>20s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=40)
    parser.add_argument("--sizes", default="64,256")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    estimator = {f: PuppetPoseEstimator(f, args.weights) for f in FAMILIES}
    means = mean_poses()
    report = {}
    for size in map(int, args.sizes.split(",")):
        report[size] = summarise(evaluate(size, args.scenes, estimator, means))
        print_table(size, report[size])
    if args.json:
        from kinema.io import write_json_atomic

        write_json_atomic(args.json, {"scenes": args.scenes, "weights": estimator["humanoid"].metadata, "results": report})


if __name__ == "__main__":
    main()
