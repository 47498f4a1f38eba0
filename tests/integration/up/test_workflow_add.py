"""A user's folder of photos becomes a served workflow with `modelfleet workflow add`, on
the real platform (`modelfleet up`: Airflow's daemons, the endpoint, the stream
classifier) and the CLI as a real process.

- From a local folder: within 60 s of the add, with no restart, `retrain__<wf>` is in
  Airflow unpaused, the endpoint answers 404 "no deployed version" (it knows the
  workflow) and the stream classifier records a photo dropped into `landing/<wf>/`;
  then `retrain --wait` releases two months through Airflow, `:classify` of a held-back
  photo answers with one of its classes, and the early photo is classified and stored.
- From `s3://` on moto's S3 server: the same two months, then `workflow remove`: the
  file is archived, the DAG leaves Airflow, the endpoint answers 404 "no model named",
  the stream stops watching, the grants are revoked, and `versions` and `lineage` still
  answer.

The platform is this package's (conftest.py): digits alone, and the second month
replaces the first whatever its accuracy. Each release costs about two minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from tests.helpers.running_platform import RunningPlatform
from tests.helpers.s3 import S3Server
from tests.helpers.user_folder import held_back_photo, write_user_folder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
PICKUP_S = 60.0  # the bound: a workflow added is known everywhere within this


def cli(*args: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "modelfleet"), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=timeout_s,
    )
    print(f"$ modelfleet {' '.join(args)}\n{done.stdout}{done.stderr}")
    return done


def until(deadline: float, check: Callable[[], Any], poll_s: float = 1.0) -> Any:
    """`check()` once truthy, else its last result when the monotonic `deadline` passed."""
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(poll_s)
    return result


def classify(platform: RunningPlatform, workflow: str, image: bytes) -> httpx.Response:
    return httpx.post(
        f"{platform.endpoint_url}/v1/models/{workflow}:classify",
        files={"file": ("photo.jpg", image)},
        headers=platform.admin_headers,
        timeout=30,
    )


def ingest_row(platform: RunningPlatform, workflow: str) -> tuple[str, str] | None:
    """(original name, state) of the workflow's first landed file, if any."""
    from modelfleet.registry.tables import IngestFileRow, WorkflowRow

    with Session(sa.create_engine(platform.database_url, poolclass=sa.pool.NullPool)) as s:
        row = s.execute(
            sa.select(IngestFileRow.original_name, IngestFileRow.state)
            .join(WorkflowRow, WorkflowRow.id == IngestFileRow.workflow_id)
            .where(WorkflowRow.name == workflow)
        ).first()
    return None if row is None else (row[0], row[1])


def git_log(platform: RunningPlatform) -> str:
    return subprocess.run(
        ["git", "log", "--format=%s"], cwd=platform.home / "repo", capture_output=True, text=True
    ).stdout


def release_two_months(workflow: str) -> None:
    for month in ("2026-01", "2026-02"):
        done = cli("retrain", workflow, "--month", month, "--wait", "--timeout", "15")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"({workflow} {month}): now in production" in done.stdout


def test_a_folder_becomes_a_served_workflow_with_no_restart(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    folder = write_user_folder(tmp_path / "line", per_class=40)
    began = time.monotonic()
    added = cli("workflow", "add", "line", "--from", str(folder.root), "--architecture", "lenet")
    deadline = began + PICKUP_S

    assert added.returncode == 0, added.stdout + added.stderr
    assert "2026-01" in added.stdout and "china" in added.stdout  # the summary table
    assert "min_rows" in added.stdout and "min_test_samples" in added.stdout  # proposed
    declared = yaml.safe_load((platform.home / "workflows.d" / "line.yaml").read_text())
    assert declared["workflows"]["line"]["architecture"] == "lenet"
    assert "line:" in (platform.home / "repo" / "params.yaml").read_text()
    assert git_log(platform).splitlines()[0].startswith("Add workflow line")

    # Within 60 s, no restart: Airflow, the endpoint and the stream know the workflow.
    (platform.home / "landing" / "line" / "early.jpg").write_bytes(held_back_photo("china", 7))
    airflow = platform.airflow()
    dag = until(deadline, lambda: airflow.dag("retrain__line"))
    assert dag is not None, "retrain__line did not appear in Airflow within 60 s"
    assert dag["is_paused"] is False
    # An unknown workflow is a 404 too: the known one says nothing is deployed yet.
    known = until(deadline, lambda: "no deployed version" in classify(platform, "line", b"x").text)
    assert known, classify(platform, "line", b"x").text
    assert classify(platform, "line", held_back_photo("china")).status_code == 404
    received = until(deadline, lambda: ingest_row(platform, "line"))
    assert received == ("early.jpg", "received"), received  # waiting for a version

    release_two_months("line")

    answered = classify(platform, "line", held_back_photo("flower"))
    assert answered.status_code == 200, answered.text
    assert answered.json()["label"] in folder.classes
    released = yaml.safe_load(cli("versions", "line", "--json").stdout)
    assert sorted(r["month"] for r in released) == ["2026-01", "2026-02"]
    (production,) = [r for r in released if r["production"]]
    assert production["month"] == "2026-02"
    assert answered.headers["X-Model-Version"] == production["version"]
    stored = until(
        time.monotonic() + 60, lambda: ingest_row(platform, "line") == ("early.jpg", "stored")
    )
    assert stored, ingest_row(platform, "line")  # the early photo, once a version served


def test_a_bucket_becomes_a_workflow_and_is_archived(
    platform: RunningPlatform, s3_server: S3Server, tmp_path: Path
) -> None:
    folder = write_user_folder(tmp_path / "bucket", per_class=40, seed=3)
    url = s3_server.upload(folder.root, s3_server.fresh_url("line"))

    added = cli("workflow", "add", "bucket", "--from", url, "--architecture", "lenet")
    assert added.returncode == 0, added.stdout + added.stderr
    release_two_months("bucket")
    answered = classify(platform, "bucket", held_back_photo("china"))
    assert answered.status_code == 200 and answered.json()["label"] in folder.classes
    version = answered.headers["X-Model-Version"]

    began = time.monotonic()
    removed = cli("workflow", "remove", "bucket", "--yes", "--reason", "line closed")
    deadline = began + PICKUP_S

    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not (platform.home / "workflows.d" / "bucket.yaml").exists()
    archived = list((platform.home / "workflows.d" / ".archive").glob("bucket.*.yaml"))
    assert len(archived) == 1 and url in archived[0].read_text()
    assert "bucket:" not in (platform.home / "repo" / "params.yaml").read_text()
    assert git_log(platform).splitlines()[0] == "Archive workflow bucket: line closed"
    assert "revoked grants: modelfleet-admin=production" in removed.stdout
    # Within 60 s: the endpoint forgets it, the DAG goes, the stream stops watching.
    gone = until(
        deadline,
        lambda: "no model named" in classify(platform, "bucket", b"x").text,
    )
    assert gone, classify(platform, "bucket", b"x").text
    airflow = platform.airflow()
    left = until(deadline, lambda: "retrain__bucket" not in airflow.dag_ids("retrain__"))
    assert left, airflow.dag("retrain__bucket")
    log = platform.home / "run" / "ingest.log"
    watching = until(
        deadline,
        lambda: [line for line in log.read_text().splitlines() if "now watching for" in line],
    )
    assert watching and "bucket" not in watching[-1], watching
    # Its versions and lineage stay queryable; the archive says what it revoked.
    assert cli("versions", "bucket").returncode == 0
    lineage = cli("lineage", f"bucket@{version}")
    assert lineage.returncode == 0 and "bucket" in lineage.stdout
    listed = cli("workflow", "list")
    assert "archived" in listed.stdout and "bucket" in listed.stdout
    from modelfleet.registry.store import applications, workflow_events

    with Session(sa.create_engine(platform.database_url, poolclass=sa.pool.NullPool)) as s:
        (event,) = [e for e in workflow_events.events(s, "bucket") if e.event == "archived"]
        grants = {a.name: a.grants for a in applications.list_applications(s)}
    assert event.reason == "line closed"
    assert set(event.detail["revoked_grants"]) == {
        "modelfleet-admin",
        "modelfleet-ingest",
        "modelfleet-reclassify",
    }
    assert all("bucket" not in g for g in grants.values())
