"""`kill -9` the stream classifier again and again while files stream in; after the
last restart every file is in exactly one final place, with one prediction per
unique image: nothing lost, nothing duplicated. Once as one process, once as two
worker processes sharing the landing folder (killed together, as a machine crash
would), where a file and its duplicate under another name fall to different shards."""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from tests.integration.conftest import BIN
from tests.integration.test_retrain_dag import production, run_dag

pytestmark = [pytest.mark.integration, pytest.mark.slow]
KILLS = 8


@pytest.fixture(scope="module")
def released(platform):
    if production(platform) is None:
        state, tasks = run_dag("2026-01")
        assert state == "success", tasks
    return platform


def inputs(workers: int) -> dict[str, bytes]:
    """Camera files: distinct good images, duplicates under other names, and bad files
    (each run's own bytes: other tests and the other run have not seen them)."""
    from modelfleet.config import load_fleet
    from modelfleet.datasets.sources import source_for

    files: dict[str, bytes] = {}
    angle = {1: 180, 2: 90}[workers]
    for i, example in enumerate(source_for(load_fleet().get("digits")).test_set()[1:81]):
        image = Image.open(io.BytesIO(example.data)).rotate(angle)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        files[f"crash{workers}_{i:03d}.png"] = buffer.getvalue()
    good = list(files.values())
    for i in range(12):
        files[f"crash{workers}_dup_{i:02d}.png"] = good[i]
    for i in range(8):
        empty = i % 2 and workers == 1
        files[f"crash{workers}_bad_{i:02d}.png"] = (
            b"" if empty else f"garbage {i} of run {workers}".encode()
        )
    return files


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_at_random_points_loses_and_duplicates_nothing(released, workers):
    from modelfleet.registry import db
    from modelfleet.registry.store import ingest_files, predictions
    from modelfleet.settings import get_settings

    settings = get_settings()
    landing = settings.landing / "digits"
    landing.mkdir(parents=True, exist_ok=True)
    files = inputs(workers)
    names = list(files)
    random.Random(7).shuffle(names)
    log = (released.home / "ingest-crash.log").open("a")

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [str(BIN / "modelfleet"), "ingest", "--workers", str(workers)],
            env=dict(os.environ),
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: the kill takes every worker
        )

    def feed() -> None:
        for name in names:  # the `.part` -> rename convention, in bursts
            part = landing / f"{name}.part"
            part.write_bytes(files[name])
            part.rename(landing / name)
            time.sleep(random.uniform(0, 0.08))

    def left() -> list[Path]:
        return [p for p in landing.iterdir() if p.name.removesuffix(".part") in files]

    feeder = threading.Thread(target=feed)
    proc = start()
    feeder.start()
    rng = random.Random(11)
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 4.0))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start()
        feeder.join()
        deadline = time.monotonic() + 180
        while left() and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(90)
    assert not left(), "files left in landing"

    unique = {hashlib.sha256(d).hexdigest(): name for name, d in files.items()}
    bad = {hashlib.sha256(d).hexdigest() for n, d in files.items() if "bad" in n}
    lake_files = [p for p in settings.lake.rglob("*") if p.suffix == ".png"]
    quarantined = [
        p
        for p in (settings.quarantine / "digits").rglob("*")
        if p.is_file() and not p.name.endswith(".json")
    ]
    with Session(db.engine(released.database_url)) as session:
        for digest in unique:
            row = ingest_files.ingest_state(session, "digits", digest)
            assert row is not None, unique[digest]
            found = predictions.find_predictions(session, digest)
            in_lake = [p for p in lake_files if p.stem == digest]
            in_quarantine = [p for p in quarantined if p.name == digest]
            if digest in bad:
                assert (row.state, len(found), len(in_lake), len(in_quarantine)) == (
                    "quarantined",
                    0,
                    0,
                    1,
                )
            else:
                assert (row.state, len(found), len(in_lake), len(in_quarantine)) == (
                    "stored",
                    1,
                    1,
                    0,
                ), unique[digest]
                assert Path(row.final_path) == in_lake[0]
        duplicates = sum(ingest_files.ingest_state(session, "digits", d).duplicates for d in unique)
    # The duplicate counter is informational: a kill between a duplicate's commit and its
    # deletion counts it again after the restart. A copy that finishes a file whose row
    # names the other file (two shards at once) is counted when it is stored. Each kill
    # shifts the count by one at most.
    assert 12 - KILLS <= duplicates <= 12 + KILLS
