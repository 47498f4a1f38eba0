"""The monitors' reads of the prediction log, as plain SQL through a `reader.Query`
(so `modelfleet monitor` runs them without SQLAlchemy; `monitor__<wf>` in its Session).

Both window queries are bounded by the index on (workflow_id, at). What the numbers mean
(which sources count, how large a sample) is monitoring.window's to decide.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from modelfleet.registry.reader import Query

_IN_WINDOW = """
    log.workflow_id = %(workflow_id)s AND log.at >= %(start)s AND log.at < %(end)s
    AND log.source IN %(sources)s"""

# The version's name is joined after counting, to a row per version rather than to every
# row of the window (a third off the query over a million rows).
_COUNTS = f"""
SELECT counted.model_version_id, model_version.version, counted.n, counted.labelled,
       counted.correct
FROM (
    SELECT log.model_version_id, count(*) AS n, count(latest.label) AS labelled,
           count(*) FILTER (WHERE latest.label = log.predicted) AS correct
    FROM prediction_log AS log
    LEFT OUTER JOIN (
        SELECT DISTINCT ON (image_sha256) image_sha256, label
        FROM image_label
        WHERE workflow_id = %(workflow_id)s
        ORDER BY image_sha256, at DESC, id DESC
    ) AS latest ON latest.image_sha256 = log.image_sha256
    WHERE {_IN_WINDOW}
    GROUP BY log.model_version_id
) AS counted
LEFT OUTER JOIN model_version ON model_version.id = counted.model_version_id
ORDER BY counted.n DESC"""

# The embedding as text, parsed by numpy at once: the driver's per-row array parsing took
# longer than the query.
_ROWS = f"""
SELECT log.predicted, log.confidence, log.brightness, log.contrast,
       log.height, log.width, log.channels, array_to_string(log.embedding, ',')
FROM prediction_log AS log {{tablesample}}
WHERE {_IN_WINDOW} AND {{version}}
LIMIT %(limit)s"""


def workflow_id(query: Query, name: str) -> int | None:
    rows = query("SELECT id FROM workflow WHERE name = %(name)s", {"name": name})
    return int(rows[0][0]) if rows else None


def window_counts(
    query: Query, workflow: int, start: datetime, end: datetime, sources: Sequence[str]
) -> Sequence[Sequence[Any]]:
    """Per version, most rows first: (id, version, rows, labelled, correct), in one pass
    over the window. Labelled: the row's image has a label, the latest per image
    (image_label); correct: that label is what the model predicted."""
    return query(_COUNTS, _bounds(workflow, start, end, sources))


def window_rows(
    query: Query,
    workflow: int,
    start: datetime,
    end: datetime,
    sources: Sequence[str],
    *,
    version_id: int | None,
    limit: int,
    sample_percent: float | None = None,
    seed: int = 0,
) -> Sequence[Sequence[Any]]:
    """(predicted, confidence, brightness, contrast, height, width, channels, embedding
    as 'a,b,...') of one version's rows, at most `limit`; with `sample_percent`, from
    that share of the table's pages only (TABLESAMPLE SYSTEM, REPEATABLE (seed))."""
    params = {
        **_bounds(workflow, start, end, sources),
        "limit": limit,
        "version_id": version_id,
        "percent": sample_percent,
        "seed": seed,
    }
    tablesample = (
        "" if sample_percent is None else "TABLESAMPLE SYSTEM (%(percent)s) REPEATABLE (%(seed)s)"
    )
    version = (
        "log.model_version_id IS NULL"
        if version_id is None
        else "log.model_version_id = %(version_id)s"
    )
    return query(_ROWS.format(tablesample=tablesample, version=version), params)


def window_requests(
    query: Query, workflow: int, start: datetime, end: datetime
) -> tuple[int, int, int]:
    """(answered, rejected, failed) inference requests of the minutes that begin in
    [start, end), as the endpoint counted them (request_count)."""
    rows = query(
        """SELECT coalesce(sum(answered), 0), coalesce(sum(rejected), 0),
                  coalesce(sum(failed), 0)
           FROM request_count
           WHERE workflow_id = %(workflow_id)s AND minute >= %(start)s AND minute < %(end)s""",
        {"workflow_id": workflow, "start": start, "end": end},
    )
    answered, rejected, failed = rows[0]
    return int(answered), int(rejected), int(failed)


def reference_stats(query: Query, version_id: int) -> dict[str, Any] | None:
    """The stored reference of a version (reference_stats.stats), or None."""
    rows = query(
        "SELECT stats FROM reference_stats WHERE model_version_id = %(id)s", {"id": version_id}
    )
    if not rows:
        return None
    stats = rows[0][0]
    # a json column: psycopg2 parses it; another driver may hand over the text
    return json.loads(stats) if isinstance(stats, str) else dict(stats)


def _bounds(
    workflow: int, start: datetime, end: datetime, sources: Sequence[str]
) -> dict[str, Any]:
    # psycopg2 renders a tuple as (a, b), the list IN wants
    return {"workflow_id": workflow, "start": start, "end": end, "sources": tuple(sources)}
