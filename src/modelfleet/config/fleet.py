"""The fleet: every workflow, the applications and their grants, checked across
workflows; and `TrainSpec`, what the DVC stages train one workflow from."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from modelfleet.config.policies import Expectations, Strict, TrainParams
from modelfleet.config.workflow import Workflow
from modelfleet.errors import ConfigError, ModelfleetError
from modelfleet.naming import parse_pin
from modelfleet.preprocessing import LEGACY, PreprocessPolicy


class ApplicationSpec(Strict):
    """A client of the endpoint declared in the file; its key comes from `modelfleet apps key`."""

    grants: dict[str, str] = Field(description="workflow -> pin (production, candidate, vX.Y.Z)")
    admin: bool = False

    @field_validator("grants")
    @classmethod
    def _pins(cls, value: dict[str, str]) -> dict[str, str]:
        for workflow, pin in value.items():
            try:
                parse_pin(pin)
            except ModelfleetError as exc:
                raise ValueError(f"{workflow}: {exc}") from None
        return value


class ParentSpec(Strict):
    """The model a training run starts from (its architecture must be rebuildable)."""

    workflow: str
    architecture: str
    num_classes: int
    input_shape: tuple[int, int, int]


class TrainSpec(Strict):
    """What the DVC stages need, and all DVC tracks as params (`params.yaml` section)."""

    name: str
    architecture: str
    classes: tuple[str, ...]
    input_shape: tuple[int, int, int]
    params: TrainParams
    warm_start: Literal["none", "production", "transfer"] = "none"
    parent: ParentSpec | None = None
    # what the validate@<wf> stage checks (tags older than the stage have none)
    expectations: Expectations = Expectations()
    # tags older than the policy stretched images to the input shape
    preprocess: PreprocessPolicy = LEGACY

    def as_params(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"name"})

    @classmethod
    def from_params(cls, name: str, section: dict[str, Any]) -> TrainSpec:
        return cls(name=name, **section)


class Fleet(Strict):
    workflows: dict[str, Workflow]
    applications: dict[str, ApplicationSpec] = Field(default_factory=dict)
    # The user's workflows (workflows.d) -> the file that declares each; the rest ship
    # in workflows.yaml.
    user_workflows: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _grants_name_workflows(self) -> Fleet:
        for name, app in self.applications.items():
            unknown = sorted(set(app.grants) - set(self.workflows))
            if unknown:
                raise ConfigError(f"application {name!r}: grants unknown workflows {unknown}")
        return self

    @model_validator(mode="after")
    def _transfer_sources_exist(self) -> Fleet:
        for wf in self.workflows.values():
            if wf.transfer_from is None:
                continue
            parent = self.workflows.get(wf.transfer_from)
            if parent is None:
                raise ConfigError(
                    f"workflow {wf.name!r}: transfer_from {wf.transfer_from!r} is not a workflow "
                    f"of the fleet ({', '.join(self.workflows)})"
                )
            if parent.input_shape != wf.input_shape:
                raise ConfigError(
                    f"workflow {wf.name!r}: transfer_from {parent.name!r} needs the same input "
                    f"shape, got {list(wf.input_shape)} vs {list(parent.input_shape)}"
                )
            if parent.transfer_from is not None:
                raise ConfigError(
                    f"workflow {wf.name!r}: transfer_from {parent.name!r}, which itself "
                    "transfers; chains are not supported"
                )
        return self

    def train_spec(self, name: str) -> TrainSpec:
        """What DVC tracks as params for workflow `name`, parent model included."""
        wf = self.get(name)
        parent, warm_start = None, "none"
        if wf.init_from == "production":
            parent, warm_start = wf, "production"
        elif wf.transfer_from is not None:
            parent, warm_start = self.get(wf.transfer_from), "transfer"
        return TrainSpec(
            name=wf.name,
            architecture=wf.architecture,
            classes=wf.classes,
            input_shape=wf.input_shape,
            params=wf.params,
            expectations=wf.expectations,
            preprocess=wf.preprocess,
            warm_start=warm_start,
            parent=None
            if parent is None
            else ParentSpec(
                workflow=parent.name,
                architecture=parent.architecture,
                num_classes=len(parent.classes),
                input_shape=parent.input_shape,
            ),
        )

    def get(self, name: str) -> Workflow:
        try:
            return self.workflows[name]
        except KeyError:
            raise ConfigError(
                f"unknown workflow {name!r}; the fleet has {', '.join(self.workflows)}"
            ) from None
