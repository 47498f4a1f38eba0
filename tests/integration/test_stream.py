"""The stream classifier against the live endpoint and real Postgres: every way a file
can end, the lake and its manifest, notifications, and an endpoint outage."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image
from sqlalchemy.orm import Session

from modelfleet.registry.store import ingest_files, predictions
from modelfleet.registry.store.lineage import prediction_lineage
from tests.integration.conftest import frozen_test_image
from tests.integration.test_retrain_dag import production, run_dag
from tests.unit.serving.test_endpoint_contract import bomb_png

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def released(platform):
    if production(platform) is None:
        state, tasks = run_dag("2026-01")
        assert state == "success", tasks
    return platform


def land(folder, name: str, data: bytes):  # type: ignore[no-untyped-def]
    """Write a file as a camera would and let it settle (older than the settle time)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    old = time.time() - 10
    os.utime(path, (old, old))
    return path


def jpeg_with_gps() -> bytes:
    image = Image.open(io.BytesIO(frozen_test_image())).convert("RGB")
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPSInfo
    exif[0x010F] = "ACME camera"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingestor(fleet_doc: dict | None = None, **settings_changes):  # type: ignore[no-untyped-def]
    from modelfleet.config import load_fleet, parse_fleet
    from modelfleet.ingest.watcher import Ingestor
    from modelfleet.registry import db
    from modelfleet.settings import get_settings

    settings = dataclasses.replace(get_settings(), **settings_changes)
    fleet = load_fleet() if fleet_doc is None else parse_fleet(fleet_doc)
    return Ingestor(settings, fleet, db.database_url()), settings


def test_every_file_ends_in_the_lake_or_in_quarantine_with_a_reason(released, capsys):
    from modelfleet.cli import main
    from modelfleet.registry import db

    run, settings = ingestor()
    landing = settings.landing / "digits"
    good, gps = frozen_test_image(), jpeg_with_gps()
    truncated = good[: len(good) // 2]
    files = {
        "cam1_good.png": good,
        "cam1_gps.jpg": gps,
        "cam1_empty.png": b"",
        "cam1_notes.png": b"this is a text file, not an image",
        "cam1_truncated.png": truncated,
        "cam1_bomb.png": bomb_png(),
    }
    for name, data in files.items():
        land(landing, name, data)
    (landing / "cam1_incoming.png.part").write_bytes(b"half written")
    fresh = landing / "cam1_fresh.png"
    fresh.write_bytes(good[:10])  # just written: not settled yet

    assert run.scan_once() == {"stored": 2, "quarantined": 4}
    assert (landing / "cam1_incoming.png.part").exists() and fresh.exists()
    assert sorted(p.name for p in landing.iterdir()) == ["cam1_fresh.png", "cam1_incoming.png.part"]
    fresh.unlink()  # a camera that never finishes its file; not for the tests after this one
    (landing / "cam1_incoming.png.part").unlink()

    # Quarantine: named by content, the original name in the JSON reason beside each;
    # private to the platform's user.
    reasons = {}
    for path in (settings.quarantine / "digits").rglob("*.json"):
        reason = json.loads(path.read_text())
        reasons[reason["original_name"]] = reason["reason"]
        assert path.name == f"{reason['sha256']}.json"
        assert path.with_name(reason["sha256"]).exists()
        assert stat.S_IMODE(path.with_name(reason["sha256"]).stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert reasons == {
        "cam1_empty.png": "zero_bytes",
        "cam1_notes.png": "wrong_format",
        "cam1_truncated.png": "undecodable",
        "cam1_bomb.png": "decompression_bomb",
    }

    # The lake: keyed by the sha256 of the bytes as they arrived, EXIF gone.
    # digits' part of the lake (other modules stream other workflows into this platform)
    lake = settings.lake / "digits"
    stored = {p.stem: p for p in lake.rglob("*") if p.suffix in (".png", ".jpg")}
    assert set(stored) == {sha(good), sha(gps)}
    assert {stat.S_IMODE(p.stat().st_mode) for p in stored.values()} == {0o600}
    assert stat.S_IMODE(settings.lake.stat().st_mode) == 0o700
    assert not Image.open(stored[sha(gps)]).getexif()
    assert Image.open(io.BytesIO(gps)).getexif()  # the original had it
    manifest = pq.read_table(next(stored[sha(good)].parent.glob("manifest.parquet"))).to_pylist()
    by_sha = {row["sha256"]: row for row in manifest}
    assert by_sha[sha(good)]["model_version"] == production(released)
    assert by_sha[sha(gps)]["source"] == "cam1_gps.jpg" and by_sha[sha(gps)]["label"]
    assert json.loads(by_sha[sha(good)]["scores_json"]).keys() == set("0123456789")

    with Session(db.engine(released.database_url)) as session:
        chain = prediction_lineage(session, sha(good))
        assert ingest_files.ingest_state(session, "digits", sha(good)).state == "stored"
        assert ingest_files.ingest_state(session, "digits", sha(b"")).reason_code == "zero_bytes"
    assert chain["model_version"]["version"] == production(released)
    assert chain["training_run"]["dag_id"] == "retrain__digits"

    # Same bytes again: a duplicate, not classified twice.
    land(landing, "cam2_same.png", good)
    assert run.scan_once() == {"duplicate": 1}
    with Session(db.engine(released.database_url)) as session:
        assert len(predictions.find_predictions(session, sha(good))) == 1
        assert ingest_files.ingest_state(session, "digits", sha(good)).duplicates == 1

    assert main(["lineage", sha(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prediction"]["image_sha256"] == sha(good)
    # ... also from the image file itself (a tree), and from a version.
    image_file = released.home / "question.png"
    image_file.write_bytes(good)
    assert main(["lineage", str(image_file)]) == 0
    tree = capsys.readouterr().out
    assert sha(good)[:12] in tree and production(released) in tree
    assert main(["lineage", f"digits@{production(released)}", "--json"]) == 0
    chain = json.loads(capsys.readouterr().out)
    assert chain["model_version"]["version"] == production(released)
    assert chain["training_run"]["dag_id"] == "retrain__digits"


def test_files_wait_while_the_endpoint_is_down_and_flow_when_it_is_back(released):
    from modelfleet.host.ports import free_port

    image = Image.open(io.BytesIO(frozen_test_image())).rotate(90)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    down, settings = ingestor(endpoint_url=f"http://127.0.0.1:{free_port()}")
    path = land(settings.landing / "digits", "cam3_outage.png", data)
    assert down.scan_once() == {"retry": 1}
    assert down.scan_once() == {"retry": 1}
    assert path.exists()  # waiting, not quarantined
    from modelfleet.registry import db

    with Session(db.engine(released.database_url)) as session:
        assert ingest_files.ingest_state(session, "digits", sha(data)).state == "received"
    up, _ = ingestor()
    assert up.scan_once() == {"stored": 1}
    assert not path.exists()


def test_webhook_and_notify_announce_each_file(released):
    import psycopg2

    events: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            events.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    doc = yaml.safe_load(released.config.read_text())
    doc["workflows"]["digits"]["ingest"] = {
        "webhook": f"http://127.0.0.1:{server.server_port}/hook"
    }
    run, settings = ingestor(doc)

    listener = psycopg2.connect(released.database_url.replace("postgresql+psycopg2", "postgresql"))
    listener.autocommit = True
    listener.cursor().execute(f"LISTEN {ingest_files.INGEST_CHANNEL}")
    data = frozen_test_image("digits")
    flipped = Image.open(io.BytesIO(data)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buffer = io.BytesIO()
    flipped.save(buffer, format="PNG")
    land(settings.landing / "digits", "cam4_hook.png", buffer.getvalue())
    land(settings.landing / "digits", "cam4_bad.png", b"\x00\x01")
    try:
        assert run.scan_once() == {"stored": 1, "quarantined": 1}
        run.webhooks.close()
        listener.poll()
        notified = [json.loads(n.payload) for n in listener.notifies]
    finally:
        server.shutdown()
        listener.close()
    assert sorted(e["event"] for e in events) == ["quarantined", "stored"]
    assert len({e["event_id"] for e in events}) == 2  # receivers can drop repeats
    stored = next(e for e in events if e["event"] == "stored")
    assert stored["source"] == "cam4_hook.png" and stored["model_version"] == production(released)
    assert next(e for e in events if e["event"] == "quarantined")["reason"] == "wrong_format"
    assert sorted(e["event"] for e in notified) == ["quarantined", "stored"]


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that records the JSON events it is sent."""

    events: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        self.events.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


def test_webhook_events_wait_in_the_outbox_through_an_outage_and_a_restart(released):
    from modelfleet.host.ports import free_port
    from modelfleet.registry import db
    from modelfleet.registry.store import webhooks

    port = free_port()  # nobody listens yet: the receiver is down
    doc = yaml.safe_load(released.config.read_text())
    hook = f"http://127.0.0.1:{port}/hook"
    doc["workflows"]["digits"]["ingest"] = {"webhook": hook}
    run, settings = ingestor(doc)
    data = frozen_test_image("digits")
    rotated = Image.open(io.BytesIO(data)).transpose(Image.Transpose.TRANSVERSE)
    buffer = io.BytesIO()
    rotated.save(buffer, format="PNG")
    land(settings.landing / "digits", "cam5_outage.png", buffer.getvalue())
    assert run.scan_once() == {"stored": 1}
    run.webhooks.close()  # the watcher stops (or dies) with the event unsent
    assert run.webhooks.sent == 0
    with Session(db.engine(released.database_url)) as session:
        assert webhooks.pending(session, hook) == 1

    Receiver.events = []
    server = HTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    restarted, _ = ingestor(doc)  # a new watcher process sends what the last one left
    try:
        deadline = time.monotonic() + 10  # the retry's backoff (1 s) must pass first
        while not Receiver.events and time.monotonic() < deadline:
            restarted.webhooks.deliver_due()
            time.sleep(0.2)
    finally:
        server.shutdown()
    assert [e["source"] for e in Receiver.events] == ["cam5_outage.png"]
    with Session(db.engine(released.database_url)) as session:
        assert webhooks.pending(session, hook) == 0
