"""One monitor window read from the prediction log, subsampled in the query itself.

Two queries of the log, each bounded by the index on (workflow_id, at), and a sum of the
window's request counts (one row per minute, for the error rate):
1. one pass over the window counting its rows per version, and, joined to the latest
   label per image (image_label), how many were labelled and how many of those the model
   got right: live accuracy counts every labelled row, whatever the window's size;
2. the rows of the version that answered most; above `max_rows`, `TABLESAMPLE SYSTEM`
   (seeded) reads only the share of pages that holds about `max_rows` of them, so a window
   of a million rows moves a few percent of its pages, and twenty thousand rows to Python.
   A page sample is a cluster sample (rows logged together share a page); with hundreds of
   pages drawn that is fine for distributions over an hour or a day.

The queries are plain SQL (registry.monitor_reads) through a `registry.reader.Query`, not
the ORM: `modelfleet monitor` then reads the window without importing SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from modelfleet.embedding import PROJECTED_DIMS
from modelfleet.registry import monitor_reads as reads
from modelfleet.registry.reader import Query

# Shadow answers are the candidate's, never production's: not part of what production saw.
MONITORED_SOURCES = ("api", "stream")
_SEED = 22  # REPEATABLE: the same window samples the same pages on each run


@dataclass(frozen=True)
class Window:
    """The main version's sampled rows of one window (the version that answered most)."""

    workflow: str
    start: datetime
    end: datetime
    version_id: int | None = None
    version: str | None = None
    per_version: dict[str, int] = field(default_factory=dict)
    n_logged: int = 0  # the main version's rows in the window
    predicted: list[str] = field(default_factory=list)
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0))
    brightness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    contrast: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shapes: list[tuple[int, int, int]] = field(default_factory=list)
    embedding: np.ndarray = field(default_factory=lambda: np.zeros((0, PROJECTED_DIMS)))
    labelled: int = 0
    correct: int = 0
    # (answered, rejected, failed) inference requests of the whole window, as the
    # endpoint counted them (request_count): failed ones never reach the log
    requests: tuple[int, int, int] = (0, 0, 0)

    @property
    def n_used(self) -> int:
        return len(self.predicted)

    @property
    def total_logged(self) -> int:
        return sum(self.per_version.values())


def read_window(
    query: Query, workflow: str, start: datetime, end: datetime, *, max_rows: int
) -> Window:
    """The window [start, end) of `workflow`, read through `query` (registry.reader: a
    Session's connection, or a bare one for `modelfleet monitor`)."""
    workflow_id = reads.workflow_id(query, workflow)
    if workflow_id is None:
        return Window(workflow, start, end)
    requests = reads.window_requests(query, workflow_id, start, end)
    counts = reads.window_counts(query, workflow_id, start, end, MONITORED_SOURCES)
    if not counts:  # nothing logged; requests may still have failed
        return Window(workflow, start, end, requests=requests)
    version_id, version, n_logged, labelled, correct = counts[0]
    rows = reads.window_rows(
        query, workflow_id, start, end, MONITORED_SOURCES,
        version_id=version_id, limit=max_rows, seed=_SEED,
        # a little above the share so the sample rarely falls short; LIMIT caps it
        sample_percent=min(100.0, 110.0 * max_rows / n_logged) if n_logged > max_rows else None,
    )  # fmt: skip
    # column-wise: one pass over the rows rather than one per figure
    predicted, confidence, brightness, contrast, height, width, channels, embedding = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([] for _ in range(8))
    )
    return Window(
        workflow,
        start,
        end,
        version_id=version_id,
        version=version,
        per_version={str(v or "unknown"): int(n) for _, v, n, _, _ in counts},
        n_logged=int(n_logged),
        predicted=predicted,
        confidence=np.array(confidence, dtype=np.float64),
        brightness=np.array(brightness, dtype=np.float64),
        contrast=np.array(contrast, dtype=np.float64),
        shapes=list(zip(height, width, channels, strict=True)),
        embedding=_embeddings(embedding),
        labelled=int(labelled),
        correct=int(correct),
        requests=requests,
    )


def _embeddings(texts: list[str | None]) -> np.ndarray:
    """'0.1,0.2,...' per row -> (n, PROJECTED_DIMS); rows of another width are left out."""
    kept = [t for t in texts if t and t.count(",") == PROJECTED_DIMS - 1]
    if not kept:
        return np.zeros((0, PROJECTED_DIMS))
    flat = np.array(",".join(kept).split(","), dtype=np.float64)
    return flat.reshape(len(kept), PROJECTED_DIMS)
