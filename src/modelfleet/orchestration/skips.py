"""Skipping a task visibly: the reason, naming the run's month, in the task log's main group.

Airflow logs the reason of an AirflowSkipException only after the task returns, under
the collapsed "Post Execute" group, so a skipped task's log looked empty. `skip()` logs
the reason while the task runs, through a logger whose records Airflow captures in the
main group, and returns the exception for the task to raise.
"""

from __future__ import annotations

import logging

from airflow.sdk.exceptions import AirflowSkipException

log = logging.getLogger(__name__)


def skip(month: str, reason: str) -> AirflowSkipException:
    """The skip to raise, its reason logged first: `raise skip(ctx.month, "...")`."""
    message = f"skipped, run for {month}: {reason}"
    log.warning(message)
    return AirflowSkipException(message)
