"""Procedural image generators for visual inspection, one module per generator.

Each generator module (surface, weld, label, cap) exposes `SPEC`, a `GeneratorSpec`
(classes, the defect styles that appear in later months, an RGB tint and a `render`
function). `common` holds the drawing primitives and `drift` the month-by-month
drift model that `modelfleet.datasets.procedural` and `.packaged` apply.
"""

from __future__ import annotations

from modelfleet.datasets.generators import cap, label, surface, weld
from modelfleet.datasets.generators.common import GeneratorSpec

GENERATORS: dict[str, GeneratorSpec] = {
    spec.name: spec for spec in (surface.SPEC, weld.SPEC, label.SPEC, cap.SPEC)
}

__all__ = ["GENERATORS", "GeneratorSpec"]
