"""`surface`: machined-metal texture with scratch, spot and crack defects.

Base: brushed fractal noise around mid-grey. Defects: `scratch` is a thin bright
straight line (new style `curved`: a bent arc), `spot` one or two dark round stains,
`crack` a dark jagged line (new style `branched`: a crack with side branches).
"""

from __future__ import annotations

import numpy as np

from modelfleet.datasets.generators.common import (
    Point,
    bezier,
    blur,
    disc,
    fractal_noise,
    paint,
    random_walk,
    stroke,
)


def render(label: str, style: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    side = min(height, width)
    streaks = blur(rng.normal(0.0, 1.0, (height, 1)).astype(np.float32), 0.7)
    image = 0.5 + 0.07 * fractal_noise(rng, height, width) + 0.02 * streaks
    centre: Point = (height * rng.uniform(0.35, 0.65), width * rng.uniform(0.35, 0.65))
    thick = max(1.6, side / 16)
    if label == "scratch":
        angle = rng.uniform(0, np.pi)
        half = side * rng.uniform(0.28, 0.45)
        offset = np.array([np.sin(angle), np.cos(angle)]) * half
        start = (centre[0] - offset[0], centre[1] - offset[1])
        end = (centre[0] + offset[0], centre[1] + offset[1])
        if style == "curved":
            bend = side * rng.uniform(0.25, 0.4) * rng.choice([-1, 1])
            control = (centre[0] + bend * np.cos(angle), centre[1] - bend * np.sin(angle))
            points = bezier(start, control, end)
        else:
            points = [start, end]
        image = paint(image, stroke(height, width, points, thick), 0.97)
    elif label == "spot":
        for _ in range(rng.integers(1, 3)):
            where = (height * rng.uniform(0.2, 0.8), width * rng.uniform(0.2, 0.8))
            spot = blur(disc(height, width, where, side * rng.uniform(0.08, 0.13)), side / 48)
            image = paint(image, spot * 0.85, 0.12)
    elif label == "crack":
        heading = rng.uniform(0, 2 * np.pi)
        steps, step = 10, side / 14
        back = (steps * step) / 2
        start = (centre[0] - back * np.sin(heading), centre[1] - back * np.cos(heading))
        trunk = random_walk(rng, start, heading, steps, step, wiggle=0.45)
        coverage = stroke(height, width, trunk, thick)
        if style == "branched":
            for _ in range(rng.integers(2, 4)):
                root = trunk[rng.integers(2, steps - 1)]
                turn = heading + rng.choice([-1, 1]) * rng.uniform(0.6, 1.2)
                branch = random_walk(rng, root, turn, 4, step * 0.8, wiggle=0.5)
                coverage = np.maximum(coverage, stroke(height, width, branch, thick * 0.8))
        image = paint(image, coverage, 0.05)
    return image
