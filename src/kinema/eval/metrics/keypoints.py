"""Motion accuracy: keypoints estimated on the output against the target's exact keypoints."""

from __future__ import annotations

import numpy as np

from kinema.pose.keypoints import Keypoints

PCK_ALPHA = 0.1
"""PCK threshold as a fraction of the target person's keypoint bounding-box diagonal, per frame."""


def _scale(xy: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(T,) bounding-box diagonal of the visible joints (T, J, 2) of one person (inf in frames with none)."""
    lo = np.where(visible[..., None], xy, np.inf).min(axis=1)  # (T, 2)
    hi = np.where(visible[..., None], xy, -np.inf).max(axis=1)
    span = np.abs(hi - lo)
    return np.hypot(span[:, 0], span[:, 1])


def _match(estimated: Keypoints, xy: np.ndarray, visible: np.ndarray) -> int:
    """Index of the estimated person closest (mean distance over joints both see) to one target person."""
    best, best_err = 0, np.inf
    for p in range(estimated.num_people):
        both = visible & (estimated.visibility[:, p] > 0)
        if both.any():
            err = float(np.linalg.norm(estimated.xy[:, p] - xy, axis=-1)[both].mean())
            if err < best_err:
                best, best_err = p, err
    return best


def keypoint_scores(estimated: Keypoints, targets: tuple[Keypoints, ...], alpha: float = PCK_ALPHA) -> dict[str, float]:
    """Keypoint error and PCK of ``estimated`` (the output's, any number of people) against the exact
    ``targets`` (one single-person :class:`Keypoints` per character), per layout group.

    Each target person is matched to its nearest estimated person. Only joints visible in the target
    count. ``kp_pck_<g>``: fraction of group g's joints estimated within ``alpha`` x the target's
    bounding-box diagonal (a joint the estimator missed is a miss). ``kp_err_<g>``: mean distance in
    pixels over the joints the estimator found. Groups are the layout's (humanoid: head, torso,
    arms, legs, hands) plus ``all`` and ``body`` (every group but hands). NaN when a group has no joint.
    """
    layout = targets[0].spec
    groups = {**{g: np.array(ix) for g, ix in layout.groups.items()}, "all": np.arange(layout.num_joints)}
    if "hands" in layout.groups:
        groups["body"] = np.setdiff1d(np.arange(layout.num_joints), layout.groups["hands"])
    dist, hit, found, seen = [], [], [], []
    for target in targets:
        xy, visible = target.xy[:, 0], target.visibility[:, 0] > 0  # (T, J, 2), (T, J)
        p = _match(estimated, xy, visible)
        d = np.linalg.norm(estimated.xy[:, p] - xy, axis=-1)  # (T, J)
        det = estimated.visibility[:, p] > 0
        dist.append(d)
        hit.append(det & (d <= alpha * _scale(xy, visible)[:, None]))
        found.append(det & visible)
        seen.append(visible)
    dist, hit, found, seen = (np.concatenate(a) for a in (dist, hit, found, seen))  # (P·T, J)
    scores = {}
    for name, ix in groups.items():
        n_seen, n_found = int(seen[:, ix].sum()), int(found[:, ix].sum())
        scores[f"kp_pck_{name}"] = float((hit[:, ix] & seen[:, ix]).sum() / n_seen) if n_seen else float("nan")
        scores[f"kp_err_{name}"] = float(dist[:, ix][found[:, ix]].mean()) if n_found else float("nan")
    return scores
