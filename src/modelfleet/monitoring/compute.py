"""One window's report, stored nowhere: the window read through a `Query`, compared with
its version's reference. `monitor__<wf>` runs it inside its Session (monitoring.run) and
`modelfleet monitor` over a bare psycopg2 connection: nothing here imports SQLAlchemy or
the ORM schema, which cost the command about half of its CPU time.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from modelfleet.monitoring.report import build_report
from modelfleet.monitoring.window import read_window
from modelfleet.registry import monitor_reads
from modelfleet.registry.reader import Query

if TYPE_CHECKING:
    from modelfleet.config import Workflow

_log = logging.getLogger(__name__)


def compute_report(
    query: Query, workflow: Workflow, start: datetime, end: datetime
) -> dict[str, Any]:
    """The report of `workflow`'s window [start, end), stored nowhere. A version without
    stored reference statistics gets them first (once; see monitoring.reference)."""
    window = read_window(query, workflow.name, start, end, max_rows=workflow.monitor.max_rows)
    reference = reference_stats(query, window.version_id)
    problem = None
    if reference is None and window.version is not None:
        reference, problem = _ensure_reference(workflow.name, window.version)
    report = build_report(window, reference, workflow.monitor)
    if problem is not None:
        report["notes"].append(problem)
    report["model_version_id"] = window.version_id
    return report


def reference_stats(query: Query, version_id: int | None) -> dict[str, Any] | None:
    """The stored reference of a version (written by monitoring.reference), or None."""
    return None if version_id is None else monitor_reads.reference_stats(query, version_id)


def _ensure_reference(workflow: str, version: str) -> tuple[dict[str, Any] | None, str | None]:
    """Compute and store a version's reference (its data restored at its tag, its model
    run: TensorFlow, imported only here); a failure leaves the drift tests out of this
    report, with the reason, rather than the report itself."""
    from modelfleet.monitoring.reference import ensure_reference

    try:
        return ensure_reference(workflow, version), None
    # anything (DVC, the model repo, the SavedModel): the rest of the report still holds
    except Exception as exc:
        _log.warning("reference statistics of %s %s: %s", workflow, version, exc)
        return None, f"no reference statistics for {version}: {type(exc).__name__}: {exc}"
