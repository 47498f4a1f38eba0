"""Where landed files end, and the rows that say so: the lake, the quarantine, Postgres.

Every step commits its row before the next side effect, and the landing file is deleted
last, so a crash anywhere leaves the file and a row that says where to resume:

1. `received`: the rows are inserted (or found and locked) before anything else.
2. `quarantined`: the copy and its JSON reason are written, then the row commits.
3. `classified`: the prediction rows and the state commit together, so a file is
   classified at most once per content, whatever crashes later.
4. `stored`: the image goes to the lake (EXIF stripped), then the row commits.
5. Only then is the landing file deleted.

Every write is idempotent (fixed names in the lake and the quarantine), and every state
change is announced (`notify`) in its own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from modelfleet.endpoint_client import Answer
from modelfleet.ingest.files import quarantine_file, today
from modelfleet.ingest.metadata import strip_metadata
from modelfleet.ingest.notify import Webhooks, file_event
from modelfleet.ingest.scan import Landed
from modelfleet.lake import Lake
from modelfleet.registry.store import ingest_files as rows
from modelfleet.registry.store.predictions import add_predictions
from modelfleet.registry.store.versions import get_version

log = logging.getLogger("modelfleet.ingest")
# Adds n files to the count of an outcome (stored, quarantined, duplicate, ...).
Count = Callable[[str, int], None]


class FileStore:
    """The states of landed files in Postgres, and the places where files end."""

    def __init__(self, engine: Engine, lake: Lake, quarantine: Path, webhooks: Webhooks) -> None:
        self.engine = engine
        self.lake = lake
        self.quarantine_root = quarantine
        self.webhooks = webhooks

    def receive(self, workflow: str, landed: list[Landed], count: Count) -> None:
        """Record the batch as `received` (or find its rows) in one transaction; the files
        already finished leave landing, counted as duplicates unless resumed."""
        finished: list[Landed] = []
        with Session(self.engine) as session, session.begin():
            found = rows.receive(
                session, workflow, [(i.sha256, i.raw_name, i.name) for i in landed], today()
            )
            for item in landed:
                row = found[item.sha256]
                item.row_id, item.day, item.state = row.id, row.partition_date or today(), row.state
                if row.state in rows.FINAL:
                    if bytes(row.original_name_raw) != item.raw_name:  # not our own resumed file
                        row.duplicates += 1
                        count("duplicate", 1)
                    finished.append(item)
        for item in finished:
            self.leave_landing(item)

    def record_predictions(self, workflow: str, items: list[Landed], answers: list[Answer]) -> None:
        """The prediction rows and the `classified` state, in one transaction."""
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            # Only rows still `received`: a second watcher may have got there first.
            open_ids = rows.lock_in_state(session, [i.row_id for i in items], rows.RECEIVED)
            version_ids = {
                name: get_version(session, workflow, name).id
                for name in {a.model_version for a in answers}
            }
            todo = [(i, a) for i, a in zip(items, answers, strict=True) if i.row_id in open_ids]
            prediction_ids = add_predictions(
                session,
                [
                    {
                        "model_version_id": version_ids[a.model_version],
                        "image_sha256": i.sha256,
                        "label": a.label,
                        "score": a.score,
                        "scores": a.scores,
                        "source": i.name,
                        "stored_path": None,
                    }
                    for i, a in todo
                ],
            )
            rows.update_files(
                session,
                [
                    {
                        "id": i.row_id,
                        "state": rows.CLASSIFIED,
                        "prediction_id": pid,
                        "classified_at": now,
                    }
                    for (i, _), pid in zip(todo, prediction_ids, strict=True)
                ],
            )
        for item, answer in todo:
            item.state, item.answer = rows.CLASSIFIED, asdict(answer)
        for item in items:
            if item.row_id not in open_ids:
                # finished by another watcher; its copy stays for the next scan
                item.state = "elsewhere"

    def store(self, workflow: str, items: list[Landed], count: Count) -> None:
        """Store classified files in the lake. Counts the images quarantined instead (they
        decode but cannot be written back without metadata), and the copies under another
        name that finished a file (the same bytes from another shard, say)."""
        for item in items:
            try:
                clean, ext = strip_metadata(item.data)  # as it arrived where only pixels
            except Exception as exc:
                detail = f"cannot be stored without its metadata: {exc}"
                self.quarantine(workflow, item, "undecodable", detail)
                count("quarantined", 1)
                continue
            path = self.lake.image_path(workflow, item.day, item.sha256, ext)
            self.lake.put(path, clean)
            item.answer["stored_path"] = path
        items = [i for i in items if i.state == rows.CLASSIFIED]
        if not items:
            return
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            # Only rows still `classified`: the same bytes under another name (another
            # shard) or a resumed file may have been stored meanwhile.
            mine = rows.lock_in_state(session, [i.row_id for i in items], rows.CLASSIFIED)
            todo = [i for i in items if i.row_id in mine]
            count("duplicate", rows.count_copies(session, {i.row_id: i.raw_name for i in todo}))
            resumed = {i.row_id: i for i in todo if "label" not in i.answer}
            for row_id, answer in rows.answers_of(session, list(resumed)).items():
                resumed[row_id].answer.update(answer)
            rows.update_files(
                session,
                [
                    {
                        "id": i.row_id,
                        "state": rows.STORED,
                        "final_path": i.answer["stored_path"],
                        "stored_at": now,
                    }
                    for i in todo
                ],
            )
            rows.link_stored_paths(session, [i.row_id for i in todo])
            events = [_event(workflow, i, rows.STORED) for i in todo]
            self.webhooks.announce(session, workflow, events)
        self.webhooks.committed()
        for item in items:  # stored now, or by whoever finished it: landing is done
            item.state = rows.STORED
            self.leave_landing(item)

    def quarantine(self, workflow: str, item: Landed, code: str, detail: str) -> None:
        """Copy the file and its reason into the quarantine, commit, leave landing."""
        reason = {
            "reason": code,
            "detail": detail,
            "workflow": workflow,
            "sha256": item.sha256,
            "original_name": item.name,
            "original_name_hex": item.raw_name.hex(),
            "bytes": item.file.size,
            "quarantined_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        root = self.quarantine_root
        content = item.data if item.file.handle is None else item.file.handle
        target = quarantine_file(root, root / workflow / item.day, item.sha256, content, reason)
        event = {**_event(workflow, item, rows.QUARANTINED), "reason": code, "detail": detail}
        with Session(self.engine) as session, session.begin():
            rows.update_files(
                session,
                [
                    {
                        "id": item.row_id,
                        "state": rows.QUARANTINED,
                        "reason_code": code,
                        "reason": detail,
                        "final_path": str(target),
                    }
                ],
            )
            self.webhooks.announce(session, workflow, [event])
        self.webhooks.committed()
        item.state = rows.QUARANTINED
        self.leave_landing(item)
        log.info("%s %s: quarantined (%s: %s)", workflow, item.name, code, detail)

    def leave_landing(self, item: Landed) -> None:
        """Delete the landing file, the last step, unless it was replaced or rewritten
        since it was read: then it is new content, for the next scan."""
        if item.folder.remove_if_unchanged(item.file.entry, item.file.identity) == "changed":
            log.info("%s changed since it was read; left for the next scan", item.name)

    def write_manifests(self, workflow: str, days: set[str]) -> None:
        """Rewrite the lake manifest of each partition day from Postgres."""
        for day in sorted(days):
            # One writer per partition at a time (other shards, other watchers): each
            # reads Postgres and renames its file while holding the lock, so the last
            # manifest written is also the newest.
            with Session(self.engine) as session, session.begin():
                rows.lock_partition(session, workflow, day)
                stored = rows.partition_manifest(session, workflow, day)
                if stored:  # stored rows are never removed: an empty partition has no images
                    self.lake.write_manifest(workflow, day, stored)


def _event(workflow: str, item: Landed, state: str) -> dict[str, Any]:
    return file_event(workflow, state, item.sha256, item.name, item.answer)
