"""`cap`: a bottle cap seen from above, with dent, misaligned and missing_liner defects.

Base: a shaded disc with a knurled rim, a bright liner ring and a centre emblem on a
dark conveyor. Defects: `dent` a crescent-shaded pit on the top face (new style
`rim`: a flattened, shadowed section of the rim), `misaligned` the cap sits well off
centre (new style `tilted`: a cap seen at an angle, an ellipse shaded to one side),
`missing_liner` no liner ring and a dark centre.
"""

from __future__ import annotations

import numpy as np

from modelfleet.datasets.generators.common import blob, fractal_noise, grid, paint


def render(label: str, style: str, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    side = min(height, width)
    yy, xx = grid(height, width)
    image = 0.12 + 0.04 * fractal_noise(rng, height, width)
    radius = side * rng.uniform(0.34, 0.38)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    jitter = side * 0.03
    cy, cx = cy + rng.uniform(-jitter, jitter), cx + rng.uniform(-jitter, jitter)
    squash, tilt = 1.0, rng.uniform(0, np.pi)
    if label == "misaligned" and style == "tilted":
        squash = rng.uniform(0.62, 0.75)
    elif label == "misaligned":
        heading, off = rng.uniform(0, 2 * np.pi), side * rng.uniform(0.14, 0.2)
        cy, cx = cy + off * np.sin(heading), cx + off * np.cos(heading)
    dy, dx = yy - cy, xx - cx
    along = dx * np.cos(tilt) + dy * np.sin(tilt)
    across = (-dx * np.sin(tilt) + dy * np.cos(tilt)) / squash
    r = np.hypot(along, across)
    body = np.clip(radius + 0.5 - r, 0.0, 1.0)
    shadow = np.zeros_like(r)
    if label == "dent" and style == "rim":
        heading = rng.uniform(0, 2 * np.pi)
        depth = dx * np.cos(heading) + dy * np.sin(heading)
        cut = radius * rng.uniform(0.7, 0.8)
        body *= np.clip(cut + 0.5 - depth, 0.0, 1.0)
        shadow = np.clip(1.0 - np.abs(depth - cut + side * 0.04) / (side * 0.06), 0.0, 1.0)
    angle = np.arctan2(across, along)
    teeth = round(radius * 1.4)
    rim = np.clip((r - 0.84 * radius) / (0.1 * radius), 0.0, 1.0)
    shade = 0.55 + 0.08 * dx / radius * (3.0 if style == "tilted" else 1.0)
    face = shade + rim * (0.12 * np.sin(angle * teeth) - 0.05)
    if label != "missing_liner":
        ring = np.clip(1.0 - np.abs(r - 0.58 * radius) / max(1.0, side / 28), 0.0, 1.0)
        emblem = np.clip(0.22 * radius + 0.5 - r, 0.0, 1.0)
        face = paint(face, np.maximum(ring, emblem), 0.85)
    else:
        face = paint(face, np.clip(0.5 * radius + 0.5 - r, 0.0, 1.0), 0.28)
    face = paint(face, shadow, 0.2)
    if label == "dent" and style != "rim":
        heading, off = rng.uniform(0, 2 * np.pi), radius * rng.uniform(0.25, 0.55)
        pit = (cy + off * np.sin(heading), cx + off * np.cos(heading))
        light = side * 0.05
        sigma = (side * 0.08, side * 0.08)
        dark = blob(height, width, (pit[0] + light, pit[1] + light), sigma)
        bright = blob(height, width, (pit[0] - light, pit[1] - light), sigma)
        face = face - 0.45 * dark + 0.3 * bright
    return paint(image, body, 0.0) + body * face
