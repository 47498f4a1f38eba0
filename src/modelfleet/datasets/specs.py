"""A workflow's `source:` block: one pydantic model per kind of data source.

The config parses them (`Workflow.source`), and each source reads its own: the
simulated ones (`sklearn_digits`, `procedural`, `packaged`) and the user's `folder`.
Which kinds exist, and the classes each can produce, is `datasets.catalog`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


def _check_month(value: str) -> str:
    if not _MONTH.match(value):
        raise ValueError(f"expected YYYY-MM, got {value!r}")
    return value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Labels from the floor: lake images people labelled join the next month's train split.
    include_labelled: bool = Field(
        True, description="train on the lake images people labelled, too (issue 22)"
    )


class _SimulatedSpec(_Spec):
    start_month: str = Field(description="first month with data, YYYY-MM")
    months: int = Field(ge=1, le=120, description="how many months of data exist")
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9, description="per-month holdout share")

    @field_validator("start_month")
    @classmethod
    def _month(cls, value: str) -> str:
        return _check_month(value)


class DigitsSourceConfig(_SimulatedSpec):
    """scikit-learn's bundled 8x8 digit scans (real images, 1,797 of them)."""

    kind: Literal["sklearn_digits"]
    test_fraction: float = Field(0.2, gt=0, lt=0.9, description="frozen test set share")


class ProceduralSourceConfig(_SimulatedSpec):
    """Generated inspection images with monthly drift (see datasets.procedural)."""

    kind: Literal["procedural"]
    generator: str
    images_per_month: int = Field(300, ge=10, le=100_000)
    test_size: int = Field(400, ge=10, le=100_000)
    drift: float = Field(1.0, ge=0, le=5)


class PackagedSourceConfig(_SimulatedSpec):
    """Patches of images that ship inside installed packages (see datasets.packaged)."""

    kind: Literal["packaged"]
    source_images: tuple[str, ...]
    images_per_month: int = Field(300, ge=10, le=100_000)
    test_size: int = Field(400, ge=10, le=100_000)
    drift: float = Field(1.0, ge=0, le=5)


class FolderSourceConfig(_Spec):
    """Your own labelled images: a local folder or any fsspec URL (see datasets.folder).

    `<url>/<YYYY-MM>/<label>/*` or `<url>/<YYYY-MM>/{train,holdout}/<label>/*`, and the
    frozen test set at `<url>/test/<label>/*`, at `test:` (`<test>/<label>/*`), or
    carved out of the months by file hash (`test_fraction`). The months that exist are
    discovered; `start_month` and `months` only narrow them.
    """

    kind: Literal["folder"]
    url: str = Field(description="local path or fsspec URL (file://, s3://, ...)")
    test: str | None = Field(None, description="the frozen test set's own URL")
    test_fraction: float | None = Field(
        None, gt=0, lt=0.9, description="share of the months' files (by hash) kept for test"
    )
    holdout_fraction: float = Field(
        0.2, gt=0, lt=0.9, description="per-month holdout share, where a month has no holdout/"
    )
    start_month: str | None = Field(None, description="no month before this one is used")
    months: int | None = Field(None, ge=1, le=1200, description="months used from start_month")

    @field_validator("url", "test")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise ValueError("must be a path or URL, got an empty string")
        scheme, sep, _ = value.partition("://")
        if sep and not _SCHEME.match(scheme):
            raise ValueError(f"{value!r} has no valid URL scheme before '://'")
        return value

    @field_validator("start_month")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        return value if value is None else _check_month(value)

    @model_validator(mode="after")
    def _one_test_set(self) -> FolderSourceConfig:
        if self.test is not None and self.test_fraction is not None:
            raise ValueError("set either test (a test set URL) or test_fraction, not both")
        if self.months is not None and self.start_month is None:
            raise ValueError("months needs start_month")
        return self


SimulatedSpec = DigitsSourceConfig | ProceduralSourceConfig | PackagedSourceConfig
SourceSpec = SimulatedSpec | FolderSourceConfig
