"""Which version number a new release gets.

MAJOR  the model's interface changed: architecture, class set or input shape
PATCH  the same month again (a manual re-run) under the same interface
MINOR  otherwise: a monthly retrain
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelfleet.naming import FIRST_VERSION, Version


@dataclass(frozen=True)
class Released:
    version: Version
    month: str
    interface: tuple[Any, ...]  # (architecture, classes, input_shape)


def interface_of(params: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a training run's params that applications depend on."""
    return (params["architecture"], tuple(params["classes"]), tuple(params["input_shape"]))


def next_version(released: list[Released], interface: tuple[Any, ...], month: str) -> Version:
    if not released:
        return FIRST_VERSION
    latest = max(released, key=lambda r: r.version)
    if interface != latest.interface:
        return Version(latest.version.major + 1, 0, 0)
    if latest.month == month:
        return Version(latest.version.major, latest.version.minor, latest.version.patch + 1)
    return latest.version.bump_minor()
