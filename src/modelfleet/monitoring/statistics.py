"""The monitors' statistics, on plain arrays (numpy only): each compares what the
prediction log saw in a window with what the version saw in training.

- `psi`: population stability index of a continuous figure (brightness, contrast) on
  ten bins cut at the reference's deciles, so each bin holds a tenth of the reference;
  scale-free, and its noise without drift is about (bins - 1) * (1/n + 1/m).
- `share_psi`: the same index over class shares.
- `mmd2`: squared maximum mean discrepancy between two embedding samples with an RBF
  kernel whose bandwidth is the reference's median pairwise distance (the usual
  heuristic). Unbiased, so about 0 without drift; compared with a fixed threshold
  rather than a permutation test, which would cost a hundred kernel matrices per report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

BINS = 10
# Empty bins get this share, so the logarithm stays finite (and a bin nobody falls into
# on one side still counts heavily, as it should).
_EPSILON = 1e-4
# The kernel test compares at most this many rows of each side: O(n^2) memory and time.
MMD_ROWS = 500


def psi(reference: Sequence[float] | np.ndarray, live: Sequence[float] | np.ndarray) -> float:
    """PSI of `live` against `reference` on the reference's decile bins."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(live, dtype=np.float64)
    if len(ref) == 0 or len(cur) == 0:
        raise ValueError("psi needs values on both sides")
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(inner) + 1)
    cur_share = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(inner) + 1)
    return _psi(ref_share / len(ref), cur_share / len(cur))


def share_psi(reference: Mapping[str, float], live: Mapping[str, float]) -> float:
    """PSI between two sets of class shares (labels missing on one side count as 0)."""
    labels = sorted(set(reference) | set(live))
    ref = np.array([reference.get(label, 0.0) for label in labels], dtype=np.float64)
    cur = np.array([live.get(label, 0.0) for label in labels], dtype=np.float64)
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("share_psi needs shares on both sides")
    return _psi(ref / ref.sum(), cur / cur.sum())


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(expected, _EPSILON, None)
    actual = np.clip(actual, _EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def shares(labels: Sequence[str]) -> dict[str, float]:
    """Each label's share of `labels`."""
    if not labels:
        return {}
    # Counter, not np.unique: sorting 20,000 Python strings as an object array took
    # longer than the rest of a report's statistics
    counts = Counter(labels)
    return {str(n): counts[n] / len(labels) for n in sorted(counts)}


def mmd2(reference: np.ndarray, live: np.ndarray, *, seed: int = 0, rows: int = MMD_ROWS) -> float:
    """Unbiased squared MMD between two (n, d) samples, each cut to `rows` at random."""
    rng = np.random.default_rng(seed)
    x = _cut(np.asarray(reference, dtype=np.float64), rows, rng)
    y = _cut(np.asarray(live, dtype=np.float64), rows, rng)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("mmd2 needs at least 2 rows on each side")
    xx, yy, xy = _sq_dists(x, x), _sq_dists(y, y), _sq_dists(x, y)
    off_diagonal = xx[~np.eye(len(x), dtype=bool)]
    median = float(np.median(off_diagonal)) if off_diagonal.size else 0.0
    gamma = 1.0 / (2.0 * median) if median > 0 else 1.0  # k = exp(-|a-b|^2 / (2 sigma^2))
    kxx, kyy, kxy = np.exp(-gamma * xx), np.exp(-gamma * yy), np.exp(-gamma * xy)
    n, m = len(x), len(y)
    within_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * kxy.mean())


def _cut(sample: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    if len(sample) <= rows:
        return sample
    return sample[rng.choice(len(sample), size=rows, replace=False)]


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.clip(squared, 0.0, None)


def low_share(confidence: np.ndarray, threshold: float) -> float:
    """Share of top-1 scores below `threshold`."""
    return float(np.mean(np.asarray(confidence) < threshold)) if len(confidence) else 0.0
