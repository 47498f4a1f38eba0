"""Procedural image generators for visual inspection, one module per generator.

Each generator module (surface, weld, label, cap) holds its `render` function;
`GENERATORS` below is the catalogue, one `GeneratorSpec` each (classes, the defect
styles that appear in later months, an RGB tint, the render function). `common` holds
the drawing primitives and `drift` the month-by-month drift model that
`modelfleet.datasets.procedural` and `.packaged` apply.
"""

from __future__ import annotations

from modelfleet.datasets.generators import cap, label, surface, weld
from modelfleet.datasets.generators.common import GeneratorSpec

GENERATORS: dict[str, GeneratorSpec] = {
    spec.name: spec
    for spec in (
        GeneratorSpec(
            name="surface",
            classes=("ok", "scratch", "spot", "crack"),
            styles={"crack": "branched", "scratch": "curved"},
            tint=(0.92, 0.95, 1.0),
            render=surface.render,
            description="brushed metal surface; scratches become curved, cracks branched",
        ),
        GeneratorSpec(
            name="weld",
            classes=("ok", "porosity", "undercut", "spatter"),
            styles={"porosity": "clustered", "undercut": "intermittent"},
            tint=(1.0, 0.9, 0.78),
            render=weld.render,
            description="weld seam bead; pores cluster into nests, undercut becomes intermittent",
        ),
        GeneratorSpec(
            name="label",
            classes=("ok", "smudge", "misprint", "missing"),
            styles={"smudge": "streak", "misprint": "skewed"},
            tint=(1.0, 0.97, 0.9),
            render=label.render,
            description="printed label; smudges become streaks, misprints become skewed",
        ),
        GeneratorSpec(
            name="cap",
            classes=("ok", "dent", "misaligned", "missing_liner"),
            styles={"dent": "rim", "misaligned": "tilted"},
            tint=(0.95, 0.55, 0.45),
            render=cap.render,
            description="bottle cap from above; dents move to the rim, misalignment becomes tilt",
        ),
    )
}

__all__ = ["GENERATORS", "GeneratorSpec"]
