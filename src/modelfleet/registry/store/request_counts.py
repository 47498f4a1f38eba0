"""Request counts: each endpoint worker adds what it answered, per workflow and minute, to
`request_count` (serving.request_tally); the error-rate monitor sums a window of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class MinuteCount:
    """One worker's inference requests to one workflow in one minute, by outcome."""

    workflow: str
    minute: datetime
    answered: int = 0  # 2xx
    rejected: int = 0  # 4xx: the request was refused (bad input, a limit, gone)
    failed: int = 0  # 5xx: the endpoint could not answer


# Rows come in as arrays (one statement, whatever the batch's size); a name the registry
# does not know joins no workflow and is skipped. Locked in one order (workflow, minute),
# so two workers adding to the same minutes wait for each other rather than deadlock.
_ADD = sa.text("""
INSERT INTO request_count (workflow_id, minute, answered, rejected, failed)
SELECT workflow.id, counted.minute, counted.answered, counted.rejected, counted.failed
FROM unnest(CAST(:names AS text[]), CAST(:minutes AS timestamptz[]),
            CAST(:answered AS integer[]), CAST(:rejected AS integer[]),
            CAST(:failed AS integer[]))
     AS counted (name, minute, answered, rejected, failed)
JOIN workflow ON workflow.name = counted.name
ORDER BY workflow.id, counted.minute
ON CONFLICT (workflow_id, minute) DO UPDATE SET
    answered = request_count.answered + excluded.answered,
    rejected = request_count.rejected + excluded.rejected,
    failed = request_count.failed + excluded.failed
""")


class RequestCountWriter:
    """Adds counts to their minutes' rows in one statement per batch; returns how many
    counts it wrote (a workflow the registry does not know is skipped). A batch must
    name each (workflow, minute) once: Postgres updates a row once per statement."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, counts: list[MinuteCount]) -> int:
        if not counts:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(
                _ADD,
                {
                    "names": [c.workflow for c in counts],
                    "minutes": [c.minute for c in counts],
                    "answered": [c.answered for c in counts],
                    "rejected": [c.rejected for c in counts],
                    "failed": [c.failed for c in counts],
                },
            )
        return int(result.rowcount)
