"""What every step knows about the run it belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from modelfleet.config import Fleet, Workflow, load_fleet
from modelfleet.registry.entities import RunRef
from modelfleet.settings import Settings, get_settings
from modelfleet.versioning.repo import ModelRepo
from modelfleet.versioning.workspace import open_workspace


@dataclass(frozen=True)
class RunContext:
    workflow_name: str
    month: str  # YYYY-MM of the data this run trains on
    run: RunRef
    operator: str | None = None  # a person releasing a candidate (`modelfleet approve`)
    approval: str | None = None  # their reason for releasing it
    via: str = "cli"  # where the person acted: "cli", or "airflow" (its approval step)
    # labels given up to here join the snapshot (the run's data-interval end; None: the
    # end of `month`)
    labels_until: datetime | None = None

    @cached_property
    def settings(self) -> Settings:
        return get_settings()

    @cached_property
    def fleet(self) -> Fleet:
        return load_fleet(self.settings.config_file)

    @cached_property
    def workflow(self) -> Workflow:
        return self.fleet.get(self.workflow_name)

    def workspace(self, *, create: bool = False) -> ModelRepo:
        """This run's git worktree of the model repository (see versioning/workspace.py)."""
        return open_workspace(self.settings, self.workflow_name, self.run.run_id, create=create)

    @property
    def actor(self) -> str:
        if self.operator:
            return f"{self.via}:{self.operator}"
        return f"airflow:{self.run.run_id}" if self.run.run_id else "cli"
