"""Confidence intervals and paired significance tests over benchmark cases."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 2000


def _finite(values: Sequence[float | None]) -> np.ndarray:
    x = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return x[np.isfinite(x)]


def bootstrap_ci(values: Sequence[float | None], seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> dict:
    """Mean of the finite ``values`` and its 95 % percentile-bootstrap interval (resampling cases).

    Returns ``{"mean", "ci95": [lo, hi], "n"}``; mean and interval are None when no value is finite.
    """
    x = _finite(values)
    if len(x) == 0:
        return {"mean": None, "ci95": [None, None], "n": 0}
    means = np.random.default_rng(seed).choice(x, (samples, len(x))).mean(axis=1)  # (samples,)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": float(x.mean()), "ci95": [float(lo), float(hi)], "n": int(len(x))}


def sign_test(deltas: np.ndarray) -> float:
    """Two-sided exact sign test p-value of paired ``deltas`` (ties dropped); 1 when all are ties."""
    pos, neg = int((deltas > 0).sum()), int((deltas < 0).sum())
    n = pos + neg
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(pos, neg) + 1)) / 2**n
    return float(min(1.0, 2 * tail))


def paired_difference(a: Sequence[float | None], b: Sequence[float | None], seed: int = 0) -> dict:
    """Paired comparison of ``b`` − ``a`` over cases where both are finite.

    Returns ``{"delta", "ci95", "p_sign", "n", "wins", "losses"}``: the mean difference, its 95 %
    paired-bootstrap interval, the sign-test p-value and the counts of cases where b > a and b < a.
    """
    x = np.array([np.nan if v is None else v for v in a], dtype=np.float64)
    y = np.array([np.nan if v is None else v for v in b], dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    d = y[keep] - x[keep]
    ci = bootstrap_ci(d, seed)
    return {"delta": ci["mean"], "ci95": ci["ci95"], "p_sign": sign_test(d), "n": int(keep.sum()),
            "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}
