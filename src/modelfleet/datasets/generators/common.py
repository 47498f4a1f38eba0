"""Drawing primitives shared by the procedural generators.

Everything works on float32 arrays in [0, 1] (1 = white) in pixel coordinates, is
anti-aliased by coverage (distance fields, not Bresenham), and draws its randomness
only from the `numpy.random.Generator` it is given, so a seed fixes every pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from PIL import Image

Point = tuple[float, float]  # (y, x) in pixels
Render = Callable[[str, str, np.random.Generator, int, int], np.ndarray]


@dataclass(frozen=True)
class GeneratorSpec:
    """One procedural generator.

    `render(label, style, rng, height, width)` returns a clean float32 image in [0, 1]
    (lighting and sensor noise are applied afterwards by the drift model). `styles`
    maps a defect class to the new style it switches to in later months; `tint` is
    the RGB colour the grayscale rendering is multiplied by for 3-channel inputs.
    """

    name: str
    classes: tuple[str, ...]
    styles: dict[str, str]
    tint: tuple[float, float, float]
    render: Render
    description: str


def grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (yy, xx), each of shape (height, width)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return yy, xx


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Value noise in [0, 1] with features about `cell` pixels wide (bicubic upsampling)."""
    rows = max(2, round(height / cell) + 2)
    cols = max(2, round(width / cell) + 2)
    coarse = Image.fromarray(rng.random((rows, cols), dtype=np.float32))
    fine = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), np.float32)
    return np.clip(fine, 0.0, 1.0)


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, cells: Sequence[float] = (16, 6, 2.5)
) -> np.ndarray:
    """Octaves of value noise, normalised to zero mean and unit-ish amplitude."""
    total = np.zeros((height, width), np.float32)
    for octave, cell in enumerate(cells):
        total += smooth_noise(rng, height, width, cell) * 0.6**octave
    total -= total.mean()
    return total / (np.abs(total).max() + 1e-6)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with edge padding (numpy only)."""
    if sigma <= 0:
        return image
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = image
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], "edge")
        size = out.shape[axis]
        out = sum(
            weight * np.take(padded, np.arange(k, k + size), axis=axis)
            for k, weight in enumerate(taps)
        )
    return np.asarray(out, np.float32)


def segment_distance(yy: np.ndarray, xx: np.ndarray, start: Point, end: Point) -> np.ndarray:
    """Distance from every pixel centre to the segment start-end."""
    (y0, x0), (y1, x1) = start, end
    dy, dx = y1 - y0, x1 - x0
    length2 = dy * dy + dx * dx
    t = np.zeros_like(yy) if length2 == 0 else ((yy - y0) * dy + (xx - x0) * dx) / length2
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx))


def stroke(height: int, width: int, points: Sequence[Point], thickness: float) -> np.ndarray:
    """Coverage in [0, 1] of a polyline through `points` drawn `thickness` pixels wide."""
    yy, xx = grid(height, width)
    nearest = np.full((height, width), np.inf, np.float32)
    for start, end in pairwise(points):
        nearest = np.minimum(nearest, segment_distance(yy, xx, start, end))
    return np.clip(thickness / 2 + 0.5 - nearest, 0.0, 1.0)


def disc(height: int, width: int, centre: Point, radius: float, squash: float = 1.0) -> np.ndarray:
    """Coverage of a filled circle (or an ellipse flattened vertically by `squash`)."""
    yy, xx = grid(height, width)
    distance = np.hypot((yy - centre[0]) / squash, xx - centre[1])
    return np.clip(radius + 0.5 - distance, 0.0, 1.0)


def blob(
    height: int, width: int, centre: Point, sigmas: tuple[float, float], angle: float = 0.0
) -> np.ndarray:
    """An (optionally elongated, rotated) Gaussian bump with peak 1."""
    yy, xx = grid(height, width)
    dy, dx = yy - centre[0], xx - centre[1]
    cos, sin = np.cos(angle), np.sin(angle)
    along, across = dx * cos + dy * sin, -dx * sin + dy * cos
    return np.exp(-0.5 * ((along / sigmas[0]) ** 2 + (across / sigmas[1]) ** 2)).astype(np.float32)


def bezier(start: Point, control: Point, end: Point, steps: int = 12) -> list[Point]:
    """Points along a quadratic Bezier curve (for curved strokes)."""
    t = np.linspace(0.0, 1.0, steps)
    ys = (1 - t) ** 2 * start[0] + 2 * (1 - t) * t * control[0] + t**2 * end[0]
    xs = (1 - t) ** 2 * start[1] + 2 * (1 - t) * t * control[1] + t**2 * end[1]
    return [(float(y), float(x)) for y, x in zip(ys, xs, strict=True)]


def random_walk(
    rng: np.random.Generator, start: Point, heading: float, steps: int, step: float, wiggle: float
) -> list[Point]:
    """A jagged path: constant step length, heading perturbed each step (for cracks)."""
    points = [start]
    y, x = start
    for _ in range(steps):
        heading += rng.normal(0.0, wiggle)
        y, x = y + step * np.sin(heading), x + step * np.cos(heading)
        points.append((float(y), float(x)))
    return points


def paint(image: np.ndarray, coverage: np.ndarray, value: float) -> np.ndarray:
    """Blend `value` into `image` where `coverage` is 1."""
    return image * (1.0 - coverage) + value * coverage
