"""Hostile landing entries against the real stream classifier, endpoint and Postgres: links,
special files, hard links, folders named like images and odd names never stop a scan, are
recorded once and moved into `.rejected/` unread; nothing outside landing reaches the lake,
the quarantine or the database; names that are not UTF-8 keep their bytes."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess

import pyarrow.parquet as pq
import pytest
from PIL import Image
from sqlalchemy.orm import Session

from tests.integration.conftest import BIN, frozen_test_image
from tests.integration.test_retrain_dag import production, run_dag
from tests.integration.test_stream import ingestor, sha

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SECRET = b"CANARY-7f3a: an API key nobody may read through landing"


@pytest.fixture(scope="module")
def released(platform):
    if production(platform) is None:
        state, tasks = run_dag("2026-01")
        assert state == "success", tasks
    return platform


def unique_png(seed: int) -> bytes:
    """A frozen test image with one pixel changed: an image no other test lands."""
    image = Image.open(io.BytesIO(frozen_test_image())).convert("L")
    image.putpixel((0, 0), seed % 256)
    image.putpixel((1, 0), seed // 256)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def settle(path) -> None:  # type: ignore[no-untyped-def]
    os.utime(path, (1, 1), follow_symlinks=False)  # long settled (the link itself)


def everything_under(*roots) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()]


def test_hostile_entries_are_rejected_unread_and_the_scan_goes_on(released):
    from modelfleet.registry import db
    from modelfleet.registry.store import ingest_files

    run, settings = ingestor()
    landing = settings.landing / "digits"
    landing.mkdir(parents=True, exist_ok=True)
    outside = released.home / "outside-landing"
    outside.mkdir(exist_ok=True)
    canary_image, secret = outside / "canary.png", outside / "api.key"
    canary_image.write_bytes(unique_png(300))  # an image: followed, it would be classified
    secret.write_bytes(SECRET)

    (landing / "hostile_link_image.png").symlink_to(canary_image)
    (landing / "hostile_link_secret.png").symlink_to(secret)
    os.link(canary_image, landing / "hostile_hard.png")
    os.mkfifo(landing / "hostile_fifo.png")
    os.mknod(landing / "hostile_socket.png", stat.S_IFSOCK | 0o600)
    (landing / "hostile_folder.png").mkdir()
    os.mknod(landing / "hostile_null.png", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # as root
    odd, forged = b"hostile_\xff\xfe.png", b"hostile\n2026-01-01 00:00:00,000 INFO x: ok.png"
    odd_image, good_image = unique_png(301), unique_png(302)
    (landing / os.fsdecode(odd)).write_bytes(odd_image)
    (landing / os.fsdecode(forged)).write_bytes(b"not an image")
    (landing / "hostile_good.png").write_bytes(good_image)
    for entry in landing.iterdir():
        settle(entry)

    assert run.scan_once() == {"stored": 2, "quarantined": 1, "rejected": 7}
    assert [p.name for p in landing.iterdir() if p.name != ".rejected"] == []

    with Session(db.engine(released.database_url)) as session:
        rejects = {
            r.name: r
            for r in ingest_files.landing_rejects(session, "digits")
            if "hostile" in r.name
        }
        kinds = {name: r.kind for name, r in rejects.items()}
        assert kinds == {
            "hostile_link_image.png": "symlink",
            "hostile_link_secret.png": "symlink",
            "hostile_hard.png": "hard_link",
            "hostile_fifo.png": "fifo",
            "hostile_socket.png": "socket",
            "hostile_folder.png": "directory",
            "hostile_null.png": "char_device",
        }
        for row in rejects.values():  # moved there, as the entry it was (never its target)
            moved = landing / row.moved_to
            assert moved.parent.name == ".rejected" and moved.lstat().st_ino == row.inode
        odd_row = ingest_files.ingest_state(session, "digits", sha(odd_image))
        assert (odd_row.state, odd_row.original_name) == ("stored", "hostile_\\xff\\xfe.png")
        assert bytes(odd_row.original_name_raw) == odd
        forged_row = ingest_files.ingest_state(session, "digits", sha(b"not an image"))
        assert forged_row.state == "quarantined"
        assert forged_row.original_name == "hostile\\x0a2026-01-01 00:00:00,000 INFO x: ok.png"
        for content in (SECRET, canary_image.read_bytes()):  # never read, so never hashed
            assert ingest_files.ingest_state(session, "digits", sha(content)) is None

    # The lake's manifest keeps the raw name in binary and its display form.
    manifest = pq.read_table(
        next(settings.lake.rglob(f"{sha(odd_image)}.png")).parent / "manifest.parquet"
    ).to_pylist()
    (row,) = [r for r in manifest if r["sha256"] == sha(odd_image)]
    assert (row["source_raw"], row["source"]) == (odd, "hostile_\\xff\\xfe.png")
    reason = json.loads((settings.quarantine / "digits").rglob(f"{sha(b'not an image')}.json")
                        .__next__().read_text())  # fmt: skip
    assert bytes.fromhex(reason["original_name_hex"]) == forged

    stored = everything_under(settings.lake, settings.quarantine)
    assert not [data for data in stored if SECRET in data or data == canary_image.read_bytes()]

    # Recorded once: the next scan finds nothing; the same name on a new FIFO is new.
    assert run.scan_once() == {}
    os.mkfifo(landing / "hostile_fifo.png")
    settle(landing / "hostile_fifo.png")
    assert run.scan_once() == {"rejected": 1}
    with Session(db.engine(released.database_url)) as session:
        fifos = [r for r in ingest_files.landing_rejects(session, "digits") if r.kind == "fifo"]
        assert len([r for r in fifos if r.name == "hostile_fifo.png"]) == 2


def test_one_odd_entry_never_crashes_the_cli_scan(released):
    """`modelfleet ingest --once`, the real process: a FIFO nobody writes to and a name
    that is not UTF-8 beside an image; the scan ends and reports each."""
    from modelfleet.settings import get_settings

    landing = get_settings().landing / "digits"
    os.mkfifo(landing / "cli_fifo.png")
    name = b"cli_\x80\x81\nname.png"
    (landing / os.fsdecode(name)).write_bytes(unique_png(303))
    for entry in (landing / "cli_fifo.png", landing / os.fsdecode(name)):
        settle(entry)
    done = subprocess.run(
        [str(BIN / "modelfleet"), "ingest", "--once"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"stored": 1, "rejected": 1}
    assert [p.name for p in landing.iterdir() if p.name.startswith("cli_")] == []
