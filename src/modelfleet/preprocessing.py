"""How an image is fitted to a model's input: the policy a workflow declares, recorded
with every exported version so that the endpoint applies the version's own policy.

A leaf module (pydantic only): the config, the imaging code and the endpoint all read it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Resize = Literal["pad", "stretch", "crop"]


class PreprocessPolicy(BaseModel):
    """`resize`: how an image of another aspect ratio meets the input shape.

    - `pad`: scale to fit inside, then fill the rest with `background` (nothing is
      lost or distorted; the default for workflows);
    - `stretch`: scale each side on its own (what versions exported without a
      policy did);
    - `crop`: scale to cover, then cut the middle.

    `background` (RGB, 0-255) fills the padding and shows through transparent pixels.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    resize: Resize = "pad"
    background: tuple[int, int, int] = Field((0, 0, 0), description="RGB, each 0..255")

    @field_validator("background")
    @classmethod
    def _rgb(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(not 0 <= channel <= 255 for channel in value):
            raise ValueError(f"expected three values 0..255, got {list(value)}")
        return value

    @classmethod
    def of_export(cls, recorded: dict[str, Any] | None) -> PreprocessPolicy:
        """The policy an exported version recorded; versions exported before the policy
        existed stretched, and keep doing so."""
        return LEGACY if recorded is None else cls(**recorded)


# What every version exported before the policy was recorded did.
LEGACY = PreprocessPolicy(resize="stretch")
