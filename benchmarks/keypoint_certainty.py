"""Calibrate, per puppet family, the certainty a joint needs to count in the keypoint metrics.

    python benchmarks/keypoint_certainty.py [--cases 22]

The puppet estimator returns a plausible average pose for anything, so before gating, a blur of the
target with no visible hands scored PCK. This renders calibration cases of each family (held-out seeds
of their own, from ``CALIBRATION_SEED_BASE``), estimates keypoints on each exact target and on its heavy
degradations (:data:`kinema.eval.degraded.HEAVY`), and picks the threshold that best separates the joints
visible in exact targets (should count) from every joint of a degraded one (should not): the maximum of
Youden's J = TPR − FPR. It prints, per family, the sweep near that maximum, the calibrated threshold
against the one in use (:data:`~kinema.eval.scoring.CERTAINTY_THRESHOLDS`), and PCK before and after
gating per variant.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from kinema.eval.benchmarks import BENCHMARKS, CALIBRATION_SEED_BASE, render_case
from kinema.eval.degraded import HEAVY, blurred
from kinema.eval.metrics import keypoint_scores
from kinema.eval.scoring import CERTAINTY_THRESHOLDS, certain_keypoints, pose_estimator

GRID = np.round(np.arange(0.0, 0.51, 0.02), 2)
FAMILIES = {"humanoid": "puppet-animate", "quadruped": "puppet-animate-quadruped", "bird": "puppet-animate-bird"}
VARIANTS = {"exact": lambda f: f, "blur σ2 (moderate)": lambda f: blurred(f, 2.0), **HEAVY}


def calibration_cases(family: str, count: int):
    """``count`` rendered cases of ``family`` on the calibration seeds (disjoint from every benchmark's)."""
    bench = BENCHMARKS[FAMILIES[family]]
    offset = list(FAMILIES).index(family) * 100_000  # each family's cases in its own part of the range
    bench = replace(bench, name=f"keypoint-calibration-{family}", seed_base=CALIBRATION_SEED_BASE + offset)
    return [render_case(bench, spec) for spec in bench.case_specs(count)]


def calibrate(family: str, cases: int) -> None:
    """Print the sweep and the PCK before and after gating for ``family``."""
    estimator, reason = pose_estimator(family)
    if estimator is None:
        raise SystemExit(reason)
    threshold = CERTAINTY_THRESHOLDS[family]
    certainty = {v: [] for v in VARIANTS}  # per variant: certainties of the joints that count
    pck = {v: {"every": [], "certain": []} for v in VARIANTS}
    for case in calibration_cases(family, cases):
        target = case.triplet.target
        visible = target.keypoints[0].visibility[:, 0] > 0  # (T, J)
        for name, degrade in VARIANTS.items():
            result = estimator(degrade(target.frames))
            c = result.certainty[:, 0]
            certainty[name].append(c[visible] if name == "exact" else c.ravel())
            every = replace(result.keypoints, visibility=np.ones_like(result.keypoints.visibility))
            pck[name]["every"].append(keypoint_scores(every, target.keypoints[:1])["kp_pck_all"])
            pck[name]["certain"].append(keypoint_scores(certain_keypoints(result, threshold), target.keypoints[:1])["kp_pck_all"])
    positives = np.concatenate(certainty["exact"])
    negatives = np.concatenate([np.concatenate(certainty[v]) for v in HEAVY])
    j = [(positives >= t).mean() - (negatives >= t).mean() for t in GRID]
    best = int(np.argmax(j))
    print(f"\n{family}: {cases} cases, {len(positives)} visible joints of exact targets, {len(negatives)} joints of "
          "heavily degraded ones\n  threshold  kept (exact)  passed (degraded)  Youden J")
    for i in range(max(0, best - 3), min(len(GRID), best + 4)):
        t = GRID[i]
        print(f"  {t:9.2f}  {(positives >= t).mean():12.3f}  {(negatives >= t).mean():17.3f}  {j[i]:8.3f}"
              f"{'  <- calibrated' if i == best else ''}")
    print(f"  calibrated {GRID[best]:.2f}; in use {threshold}. PCK all, every joint -> certain joints only:")
    for name, values in pck.items():
        print(f"    {name:20s} {np.nanmean(values['every']):.3f} -> {np.nanmean(values['certain']):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=22, help="cases per family")
    args = parser.parse_args()
    for family in FAMILIES:
        calibrate(family, args.cases)


if __name__ == "__main__":
    main()
