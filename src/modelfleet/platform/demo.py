"""`modelfleet demo`: bring the platform up, retrain digits for two months through
Airflow, stream a few images through the classifier, and show what happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from modelfleet.config import load_fleet
from modelfleet.datasets.manifest import sha256_bytes
from modelfleet.datasets.sources import source_for
from modelfleet.errors import PlatformError
from modelfleet.months import add_months, month_index
from modelfleet.orchestration.airflow_client import AirflowClient
from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
from modelfleet.orchestration.trigger import RetrainRequest, describe, follow, trigger
from modelfleet.platform.up import say, up
from modelfleet.registry import db
from modelfleet.registry.api_keys import ADMIN_APP, key_file
from modelfleet.registry.store import ingest_files, versions
from modelfleet.registry.store.lineage import prediction_lineage
from modelfleet.registry.tables import DatasetVersionRow, ModelVersionRow, TrainingRunRow
from modelfleet.settings import Settings
from modelfleet.versioning.repo import open_repo
from modelfleet.views import render_lineage

WORKFLOW = "digits"
RUN_TIMEOUT_S = 900.0


def next_months(settings: Settings, count: int = 2) -> list[str]:
    """The months after the last one a digits version was trained on (wrapping)."""
    source = load_fleet(settings.config_file).get(WORKFLOW).source
    start, span = source.start_month, source.months
    assert start is not None and span is not None  # digits' source simulates its months
    with Session(db.engine()) as session:
        done = (
            session.query(DatasetVersionRow.month)
            .join(TrainingRunRow, TrainingRunRow.dataset_version_id == DatasetVersionRow.id)
            .join(ModelVersionRow, ModelVersionRow.training_run_id == TrainingRunRow.id)
            .all()
        )
    last = max((m for (m,) in done), default=None)
    first = start if last is None else add_months(last, 1)
    months = []
    for i in range(count):
        month = add_months(first, i)
        if month_index(month, start) >= span:
            month = add_months(start, month_index(month, start) % span)
        months.append(month)
    return months


def drop_images(settings: Settings, count: int = 4) -> list[str]:
    """Copy test images not streamed before (and one corrupt file) into landing, atomically."""
    landing = settings.landing / WORKFLOW
    stamp = datetime.now(UTC).strftime("%H%M%S")
    images = source_for(load_fleet(settings.config_file).get(WORKFLOW)).test_set()
    with Session(db.engine()) as session:
        seen = {
            image.name
            for image in images
            if ingest_files.ingest_state(session, WORKFLOW, sha256_bytes(image.data))
        }
    fresh = [image for image in images if image.name not in seen] or images
    shas = []
    for image in fresh[:count]:
        _land(landing / f"camera_{stamp}_{image.name}", image.data)
        shas.append(sha256_bytes(image.data))
    corrupt = b"\x89PNG\r\n\x1a\n" + b"truncated sensor dump " + stamp.encode()
    _land(landing / f"camera_{stamp}_broken.png", corrupt)
    shas.append(sha256_bytes(corrupt))
    return shas


def _land(path: Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.rename(path)


def wait_for_ingest(shas: list[str], timeout_s: float = 120) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        with Session(db.engine()) as session:
            for sha in shas:
                row = ingest_files.ingest_state(session, WORKFLOW, sha)
                states[sha] = row.state if row else "waiting"
        if all(s in (ingest_files.STORED, ingest_files.QUARANTINED) for s in states.values()):
            return states
        time.sleep(1)
    raise PlatformError(f"the stream classifier did not finish within {timeout_s:.0f}s: {states}")


def demo(settings: Settings) -> None:
    started = time.monotonic()
    up(settings)
    password = admin_password(settings)
    client = AirflowClient(settings.airflow_url, ADMIN_USER, password)
    fleet = load_fleet(settings.config_file)
    dag_id = fleet.get(WORKFLOW).dag_id
    say(f"waiting for Airflow to parse {dag_id}")
    client.wait_for_dag(dag_id)
    for month in next_months(settings):
        # What `modelfleet retrain digits --month M --unpause --wait` does.
        request = RetrainRequest(WORKFLOW, month, unpause=True, run_prefix="demo")
        run = trigger(client, fleet, request, say=say)
        say(f"triggered {dag_id} for month {month} through the Airflow REST API ({run.run_id})")
        result = follow(client, run, RUN_TIMEOUT_S, progress=_progress(run.run_id))
        say(f"run {run.run_id}: {result.state} ({result.outcome})")
        if result.state != "success":
            raise PlatformError("\n".join(describe(result)))
    say("dropping 4 test images and 1 corrupt file into " + str(settings.landing / WORKFLOW))
    shas = drop_images(settings)
    states = wait_for_ingest(shas)
    summary(settings, password, shas, states, time.monotonic() - started)


def _progress(run_id: str) -> Callable[[str, str], None]:
    def show(task: str, state: str) -> None:
        print(f"    {run_id}: {task} {state}", flush=True)

    return show


def summary(
    settings: Settings, password: str, shas: list[str], states: dict[str, str], elapsed: float
) -> None:
    from rich.console import Console

    console = Console()
    repo = open_repo()  # tags live in the repository, whichever workspace made them
    with Session(db.engine()) as session:
        production = versions.resolve_alias(session, WORKFLOW)
        stored = next(s for s in shas if states[s] == ingest_files.STORED)
        chain = prediction_lineage(session, stored)
        quarantined = [s for s in shas if states[s] == ingest_files.QUARANTINED]
        rows = [ingest_files.ingest_state(session, WORKFLOW, s) for s in quarantined]
        reasons = [row.reason for row in rows if row is not None]  # each read as quarantined
    console.rule(f"modelfleet demo finished in {elapsed / 60:.1f} min")
    console.print(f"Airflow UI     {settings.airflow_url}  (login: {ADMIN_USER} / {password})")
    console.print(f"version tags   {', '.join(repo.tags(WORKFLOW))}")
    console.print(f"production     {WORKFLOW}@{production.version if production else '-'}")
    console.print(
        f"endpoint       {settings.endpoint_url}/v1/models/{WORKFLOW}  (docs: {settings.endpoint_url}/docs)"
    )
    console.print(
        f"API key        {key_file(settings, ADMIN_APP)} (admin; "
        "`modelfleet apps create <name> --grant digits` makes one per application)"
    )
    p = chain["prediction"]
    console.print(
        f"prediction     {p['source']} -> label {p['label']} (score {p['score']}) "
        f"by {chain['model_version']['tag']}"
    )
    for sha, reason in zip(quarantined, reasons, strict=True):
        console.print(f"quarantined    {sha[:12]}…: {reason}")
    console.print(render_lineage(chain))
    console.print(f"\nLineage again: modelfleet lineage {stored}\nStop everything: make stop")
