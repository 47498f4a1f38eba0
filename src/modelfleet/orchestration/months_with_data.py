"""The months a workflow has data for: what the trigger form proposes, and what a manual
run without a month trains on (the latest).

A simulated source declares its months in workflows.yaml; the registry knows the rest
(months imported or generated with `modelfleet data`, and every month a run
snapshotted). Nothing here lists a folder or bucket: the DAG processor reads these
while it parses, and a listing of the user's S3 bucket there would stall every parse.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from modelfleet.config import Fleet, Workflow
from modelfleet.datasets.specs import FolderSourceConfig
from modelfleet.months import add_months

log = logging.getLogger(__name__)

# A parse waits at most this long for Postgres, then offers the declared months only.
PARSE_DB_TIMEOUT_S = 2


def declared_months(workflow: Workflow) -> list[str]:
    """A simulated source's months, from its config; a folder's are discovered, so none."""
    src = workflow.source
    if isinstance(src, FolderSourceConfig):
        return []
    return [add_months(src.start_month, i) for i in range(src.months)]


def months_with_data(workflow: Workflow, recorded: Mapping[str, list[str]]) -> list[str]:
    """Declared and recorded months of `workflow`, sorted."""
    return sorted(set(declared_months(workflow)) | set(recorded.get(workflow.name, ())))


def recorded_at_parse(fleet: Fleet) -> dict[str, list[str]]:
    """Every workflow's recorded months, for the DAG processor: never raises, never waits
    long, and never starts the embedded Postgres (empty when the registry is not there)."""
    from modelfleet.settings import get_settings

    url = get_settings().database_url
    if not url or not fleet.workflows:
        # The platform always passes the database URL to Airflow; without it this is a
        # parse outside the platform, which has nothing recorded to offer.
        return {}
    try:
        from sqlalchemy.orm import Session

        from modelfleet.registry.db import short_use_engine
        from modelfleet.registry.store.data_months import recorded_months

        engine = short_use_engine(url, PARSE_DB_TIMEOUT_S)
        try:
            with Session(engine) as session:
                return recorded_months(session)
        finally:
            engine.dispose()
    except Exception as exc:  # a parse must never fail for a proposal on a form
        log.warning("no months with data to propose: the registry did not answer (%s)", exc)
        return {}


def latest_month_with_data(workflow: Workflow, before: datetime) -> str | None:
    """The latest month `workflow` had data for at `before` (a run's creation), or None."""
    from sqlalchemy.orm import Session

    from modelfleet.registry import db
    from modelfleet.registry.store.data_months import recorded_months

    with Session(db.engine()) as session:
        recorded = recorded_months(session, before=before)
    months = months_with_data(workflow, recorded)
    return months[-1] if months else None
