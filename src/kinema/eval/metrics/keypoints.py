"""Motion accuracy: keypoints estimated on the output against the target's exact keypoints."""

from __future__ import annotations

import numpy as np

from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import Layout

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
    count, and a joint is found where ``estimated.visibility`` > 0 (the scorer passes 1 where the
    estimator is certain, 0 elsewhere: :func:`kinema.eval.scoring.certain_keypoints`). ``kp_pck_<g>``:
    fraction of group g's joints found within ``alpha`` x the target's bounding-box diagonal (a joint
    not found is a miss). ``kp_err_<g>``: mean distance in pixels over the joints found.
    ``kp_found_<g>``: fraction of the joints found. Groups are the layout's (humanoid: head, torso,
    arms, legs, hands) plus ``all`` and ``body`` (every group but hands). NaN when a group has no joint.
    ``bone_err``: body shape, the mean relative bone-length error (see :func:`_bone_errors`).
    """
    layout = targets[0].spec
    groups = {**{g: np.array(ix) for g, ix in layout.groups.items()}, "all": np.arange(layout.num_joints)}
    if "hands" in layout.groups:
        groups["body"] = np.setdiff1d(np.arange(layout.num_joints), layout.groups["hands"])
    limbs = _body_limbs(layout)
    dist, hit, found, seen, bones = [], [], [], [], []
    for target in targets:
        xy, visible = target.xy[:, 0], target.visibility[:, 0] > 0  # (T, J, 2), (T, J)
        p = _match(estimated, xy, visible)
        d = np.linalg.norm(estimated.xy[:, p] - xy, axis=-1)  # (T, J)
        det = estimated.visibility[:, p] > 0
        bones.append(_bone_errors(estimated.xy[:, p], det, xy, visible, limbs))
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
        scores[f"kp_found_{name}"] = n_found / n_seen if n_seen else float("nan")
    bones = np.concatenate(bones)
    scores["bone_err"] = float(bones.mean()) if bones.size else float("nan")
    return scores


def _body_limbs(layout: Layout) -> np.ndarray:
    """(L, 2) limbs of the body proper: neither end in the head or hands group (tiny at puppet sizes)."""
    small = {j for g in ("head", "hands") for j in layout.groups.get(g, ())}
    return np.array([(a, b) for a, b in layout.limbs if a not in small and b not in small], dtype=int).reshape(-1, 2)


def _bone_errors(est: np.ndarray, det: np.ndarray, xy: np.ndarray, visible: np.ndarray, limbs: np.ndarray,
                 min_length: float = 2.0) -> np.ndarray:
    """|estimated / target length − 1| of every (frame, limb) both see whose target length is at least
    ``min_length`` pixels: body shape (bone proportions), independent of where the limbs point."""
    a, b = limbs[:, 0], limbs[:, 1]
    length = np.linalg.norm(xy[:, a] - xy[:, b], axis=-1)  # (T, L)
    ok = visible[:, a] & visible[:, b] & det[:, a] & det[:, b] & (length >= min_length)
    return np.abs(np.linalg.norm(est[:, a] - est[:, b], axis=-1) / np.maximum(length, 1e-6) - 1)[ok]
