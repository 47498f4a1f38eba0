"""The drift model: how acquisition conditions change month by month.

With month index m (0 = start month) and t = m * drift:

- lighting: the lamp ages, so exposure (a gain on pixel values) falls to
  1 - min(0.3, 0.025 t), contrast about mid-grey flattens to max(0.7, 1 - 0.025 t)
  and, for RGB, the white balance warms by min(0.15, 0.015 t) (red up, blue down);
- sensor noise: Gaussian with std min(0.05, 0.015 + 0.003 t) on [0, 1] pixels;
- class balance: class k of K has logit log(base_k) + 0.08 t (2k / (K - 1) - 1), so
  the first classes (usually "ok") get rarer and the last defects more frequent;
  shares are then bounded to [min(0.1, 0.5 / K), max(0.4, 1.6 / K)] (10-40 % for 4
  classes) and turned into exact counts per month;
- defect style: from month `STYLE_MONTH` (4) on, a share min(1, drift (0.5 + 0.125
  (m - 4))) of each restyled defect class (e.g. surface cracks) are drawn in their new
  style (branched cracks, curved scratches, ...). drift = 0 never switches.

Every image also gets small per-image lighting jitter (contrast +-5 %, exposure
sd 0.02), so models see some variation but not months' worth of it.

`finish` applies a month's conditions to a clean rendering in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STYLE_MONTH = 4


@dataclass(frozen=True)
class Conditions:
    """Acquisition conditions of one month (see the module docstring)."""

    index: int
    exposure: float
    contrast: float
    noise: float
    white_balance: tuple[float, float, float]
    new_style_share: float


def conditions_at(index: int, drift: float) -> Conditions:
    t = index * drift
    warm = min(0.15, 0.015 * t)
    share = (
        0.0 if drift <= 0 or index < STYLE_MONTH else drift * (0.5 + 0.125 * (index - STYLE_MONTH))
    )
    return Conditions(
        index=index,
        exposure=1.0 - min(0.3, 0.025 * t),
        contrast=max(0.7, 1.0 - 0.025 * t),
        noise=min(0.05, 0.015 + 0.003 * t),
        white_balance=(1.0 + warm, 1.0, 1.0 - warm),
        new_style_share=min(1.0, share),
    )


def class_shares(classes: tuple[str, ...], index: int, drift: float) -> np.ndarray:
    """Each class's share of a month's images (sums to 1, bounded per class)."""
    k = len(classes)
    base = np.array([1.5 if c == "ok" else 1.0 for c in classes])
    slope = 0.08 * (2 * np.arange(k) / (k - 1) - 1)
    shares = base * np.exp(slope * index * drift)
    low, high = min(0.1, 0.5 / k), max(0.4, 1.6 / k)
    fixed = np.zeros(k, dtype=bool)
    for _ in range(k):
        free = ~fixed
        shares[free] *= (1.0 - shares[fixed].sum()) / shares[free].sum()
        out = free & ((shares < low) | (shares > high))
        if not out.any():
            break
        shares[out] = np.clip(shares[out], low, high)
        fixed |= out
    return shares


def exact_counts(shares: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder rounding of `shares * total`, every class at least 1."""
    raw = shares * total
    counts = np.maximum(1, np.floor(raw).astype(int))
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    for i in range(total - int(counts.sum())):
        counts[order[i % len(order)]] += 1
    return counts


def finish(
    image: np.ndarray,
    cond: Conditions,
    rng: np.random.Generator,
    channels: int,
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0),
    jitter: tuple[float, float] = (0.05, 0.02),
) -> np.ndarray:
    """Apply a month's lighting, colour and sensor noise; return uint8 HxW or HxWx3.

    `jitter` is the per-image (relative contrast range, relative exposure sd).
    """
    gain = cond.contrast * (1.0 + rng.uniform(-jitter[0], jitter[0]))
    exposure = cond.exposure * (1.0 + rng.normal(0.0, jitter[1]))
    image = (0.5 + (image - 0.5) * gain) * exposure
    if channels == 3:
        colour = np.asarray(tint, np.float32) * np.asarray(cond.white_balance, np.float32)
        image = (image if image.ndim == 3 else image[..., None]) * colour
    elif image.ndim == 3:
        image = image @ np.array([0.299, 0.587, 0.114], np.float32)
    image = image + rng.normal(0.0, cond.noise, image.shape)
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
