"""`weld`: a horizontal weld bead on a steel plate, with porosity, undercut and spatter.

Base: a rippled, cylindrically shaded bead across the image. Defects: `porosity` dark
round pores scattered in the bead (new style `clustered`: one tight nest of pores),
`undercut` a dark groove along one bead edge (new style `intermittent`: short grooves
along both edges), `spatter` bright droplets on the plate beside the bead.
"""

from __future__ import annotations

import numpy as np

from modelfleet.datasets.generators.common import disc, fractal_noise, grid, paint, stroke


def render(label: str, style: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    side = min(height, width)
    yy, xx = grid(height, width)
    image = 0.32 + 0.06 * fractal_noise(rng, height, width)
    centre = height * rng.uniform(0.45, 0.55)
    half = height * rng.uniform(0.16, 0.2)
    wave = centre + height * 0.015 * np.sin(xx / width * 2 * np.pi * rng.uniform(0.5, 1.5))
    across = yy - wave
    inside = np.clip(half + 0.5 - np.abs(across), 0.0, 1.0)
    profile = np.sqrt(np.clip(1.0 - (across / half) ** 2, 0.0, 1.0))
    period = width / rng.uniform(6, 9)
    ripples = 0.06 * np.sin(2 * np.pi * (xx + 1.5 * np.abs(across)) / period)
    image = paint(image, inside, 0.0) + inside * (0.42 + 0.33 * profile + ripples)
    if label == "porosity":
        if style == "clustered":
            nest = (centre + rng.uniform(-0.3, 0.3) * half, width * rng.uniform(0.2, 0.8))
            spots = [
                (nest[0] + rng.normal(0, side * 0.05), nest[1] + rng.normal(0, side * 0.06))
                for _ in range(rng.integers(4, 8))
            ]
        else:
            spots = [
                (centre + rng.uniform(-0.6, 0.6) * half, width * rng.uniform(0.08, 0.92))
                for _ in range(rng.integers(3, 7))
            ]
        for where in spots:
            image = paint(image, disc(height, width, where, side * rng.uniform(0.03, 0.055)), 0.08)
    elif label == "undercut":
        thick = max(1.2, side / 20)
        if style == "intermittent":
            for sign in (-1, 1):
                for _ in range(rng.integers(2, 4)):
                    x0 = width * rng.uniform(0.0, 0.8)
                    y = centre + sign * half * 0.95
                    dash = [(y, x0), (y, x0 + width * rng.uniform(0.1, 0.2))]
                    image = paint(image, stroke(height, width, dash, thick), 0.06)
        else:
            y = centre + rng.choice([-1, 1]) * half * 0.95
            x0 = width * rng.uniform(0.0, 0.4)
            groove = [(y, x0), (y, min(width, x0 + width * rng.uniform(0.5, 1.0)))]
            image = paint(image, stroke(height, width, groove, thick), 0.06)
    elif label == "spatter":
        for _ in range(rng.integers(5, 11)):
            gap = half + side * rng.uniform(0.06, 0.3)
            where = (centre + rng.choice([-1, 1]) * gap, width * rng.uniform(0.05, 0.95))
            image = paint(image, disc(height, width, where, side * rng.uniform(0.025, 0.05)), 0.9)
    return image
