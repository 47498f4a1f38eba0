"""The kinds of data source a workflow's `source:` may name, and what each can produce.

The config imports this module to parse and check a workflow: `SourceConfig` is the
union its `source:` block parses into (picked by `kind`), and `source_classes` the
classes a simulated source can draw. Nothing here reads files or imports TensorFlow;
opening a workflow's source is `datasets.sources`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from modelfleet.datasets.generators import GENERATORS
from modelfleet.datasets.packaged import SOURCE_IMAGES, default_classes
from modelfleet.datasets.specs import (
    DigitsSourceConfig,
    FolderSourceConfig,
    PackagedSourceConfig,
    ProceduralSourceConfig,
    SimulatedSpec,
)

__all__ = [
    "DigitsSourceConfig",
    "FolderSourceConfig",
    "PackagedSourceConfig",
    "ProceduralSourceConfig",
    "SourceConfig",
    "source_classes",
]

SourceConfig = Annotated[
    DigitsSourceConfig | ProceduralSourceConfig | PackagedSourceConfig | FolderSourceConfig,
    Field(discriminator="kind"),
]

DIGITS = tuple(str(d) for d in range(10))


def source_classes(source: SimulatedSpec) -> tuple[str, ...]:
    """The class names a simulated source can produce (a folder's are its label
    folders, seen only when a month is copied). ValueError names an unknown generator
    or bundled image, so that pydantic reports it at the field."""
    if isinstance(source, DigitsSourceConfig):
        return DIGITS
    if isinstance(source, ProceduralSourceConfig):
        if source.generator not in GENERATORS:
            raise ValueError(
                f"generator {source.generator!r} is not one of {', '.join(GENERATORS)}"
            )
        return tuple(GENERATORS[source.generator].classes)
    unknown = [key for key in source.source_images if key not in SOURCE_IMAGES]
    if unknown:
        raise ValueError(f"source_images {unknown} are not among {', '.join(SOURCE_IMAGES)}")
    return default_classes(source.source_images)
