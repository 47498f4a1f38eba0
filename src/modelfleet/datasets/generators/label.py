"""`label`: a printed product label on a dark conveyor, with smudge, misprint, missing.

Base: a white label with a bold title bar and rows of word-like dark blocks. Defects:
`smudge` a grey round smear (new style `streak`: a long thin diagonal smear),
`misprint` the whole print shifted off its place with a faint ghost copy (new style
`skewed`: the print is sheared so the rows slope), `missing` most rows not printed.
"""

from __future__ import annotations

import numpy as np

from modelfleet.datasets.generators.common import blob, fractal_noise, grid, paint

Box = tuple[float, float, float, float]  # y0, y1, x0, x1


def _boxes(yy: np.ndarray, xx: np.ndarray, boxes: list[Box]) -> np.ndarray:
    coverage = np.zeros_like(yy)
    for y0, y1, x0, x1 in boxes:
        inside = np.minimum(np.minimum(yy - y0, y1 - yy), np.minimum(xx - x0, x1 - xx))
        coverage = np.maximum(coverage, np.clip(inside + 0.5, 0.0, 1.0))
    return coverage


def _layout(rng: np.random.Generator, label: Box, rows: int) -> list[Box]:
    top, bottom, left, right = label
    line = (bottom - top) / (rows + 1.5)
    words: list[Box] = [(top + 0.5 * line, top + 1.1 * line, left + 2, left + (right - left) * 0.6)]
    for row in range(1, rows):
        y = top + (row + 0.7) * line
        x = left + 2 + rng.uniform(0, 2)
        while x < right - 4:
            end = min(right - 2, x + (right - left) * rng.uniform(0.1, 0.25))
            words.append((y, y + 0.38 * line, x, end))
            x = end + (right - left) * rng.uniform(0.06, 0.1)
    return words


def render(label: str, style: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    side = min(height, width)
    yy, xx = grid(height, width)
    image = 0.22 + 0.05 * fractal_noise(rng, height, width)
    margin_y, margin_x = height * rng.uniform(0.06, 0.1), width * rng.uniform(0.06, 0.1)
    box = (margin_y, height - margin_y, margin_x, width - margin_x)
    sheet = _boxes(yy, xx, [box])
    image = paint(image, sheet, 0.86) + sheet * 0.02 * fractal_noise(rng, height, width)
    words = _layout(rng, box, rows=5)
    if label == "missing":
        keep = rng.integers(0, 2)
        words = words[:1] if keep else [w for w in words if w[0] > height * 0.6]
    ty, tx = yy, xx
    if label == "misprint" and style == "skewed":
        slope = rng.choice([-1, 1]) * rng.uniform(0.25, 0.4)
        ty = yy - slope * (xx - width / 2)
    elif label == "misprint":
        shift_y = rng.choice([-1, 1]) * height * rng.uniform(0.12, 0.2)
        shift_x = rng.choice([-1, 1]) * width * rng.uniform(0.1, 0.2)
        ty, tx = yy - shift_y, xx - shift_x
        ghost = _boxes(yy - shift_y * 0.3, xx - shift_x * 0.3, words) * sheet
        image = paint(image, ghost * 0.35, 0.1)
    ink = _boxes(ty, tx, words) * sheet
    image = paint(image, ink * 0.92, 0.08)
    if label == "smudge":
        centre = (height * rng.uniform(0.25, 0.75), width * rng.uniform(0.25, 0.75))
        if style == "streak":
            sigmas = (side * rng.uniform(0.3, 0.4), side * rng.uniform(0.04, 0.06))
            smear = blob(height, width, centre, sigmas, rng.uniform(0, np.pi))
        else:
            smear = blob(height, width, centre, (side * 0.16, side * rng.uniform(0.12, 0.16)))
        image = paint(image, smear * 0.85, 0.25)
    return image
