"""Property: whatever lands, the real `modelfleet ingest` process stays up, every regular
file ends in the lake or the quarantine exactly once, nothing outside landing is opened or
stored, and every log line starts with the logger's prefix.

Hypothesis generates landing trees with every kind of entry: images and junk (some over
the size limit) under random byte names (newlines, bytes that are not UTF-8), links to a
canary outside landing and to files inside, dangling links, hard links (to the canary, and
pairs inside landing), FIFOs, sockets, a device, folders named like images, and dot and
`.part` files that must be left alone. One ingest process and the endpoint serve every
example. An audit hook in the ingest process (a `sitecustomize` on its PYTHONPATH) logs
every `open` it makes.
"""

from __future__ import annotations

import ast
import hashlib
import io
import itertools
import os
import re
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.integration.conftest import BIN, frozen_test_image
from tests.integration.test_retrain_dag import production, run_dag

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES = 60
MAX_BYTES = 4096  # digits' ingest.max_bytes for this process: junk above it is "too large"
SECRET = b"CANARY-5c1e: a secret outside landing that no entry may leak"
LOG_PREFIX = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)
AUDIT_HOOK = """
import os, sys
_log = os.environ.get("MODELFLEET_TEST_OPEN_LOG")
if _log:
    _fd = os.open(_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def _log_open(event, args):
        if event == "open" and isinstance(args[0], (str, bytes)):
            line = repr((args[0], args[2])) + "\\n"
            os.write(_fd, line.encode("ascii", "backslashreplace"))

    sys.addaudithook(_log_open)
"""
REFUSED_KINDS = {
    "link_out": "symlink",
    "link_secret": "symlink",
    "link_in": "symlink",
    "link_dangling": "symlink",
    "hard_out": "hard_link",
    "hard_pair": "hard_link",
    "fifo": "fifo",
    "socket": "socket",
    "device": "char_device",
    "folder": "directory",
}
KINDS = ["image", "junk", "oversized", *REFUSED_KINDS, "dotfile", "partial"]
if os.geteuid() != 0:  # a device node needs CAP_MKNOD
    KINDS.remove("device")
_unique = itertools.count(1000)


@dataclass
class Stream:
    """The running ingest process and where to look."""

    proc: subprocess.Popen
    landing: Path
    lake: Path
    quarantine: Path
    outside: Path
    canary_image: bytes
    log: Path
    opens: Path
    engine: sa.Engine
    run_dir: Path

    def assert_up(self) -> None:
        """The process runs, and no worker of it crashed (a supervisor restarts a crashed
        worker: its state file counts the crashes)."""
        from modelfleet.host.supervise import read_state

        assert self.proc.poll() is None, self.log.read_text(errors="replace")[-4000:]
        state = read_state(self.run_dir, "ingest")
        if state is not None and state.pid == self.proc.pid:
            assert state.crashes == 0, state.last_error


@pytest.fixture(scope="module")
def stream(platform, tmp_path_factory):
    from modelfleet.registry import db
    from modelfleet.settings import get_settings

    if production(platform) is None:
        state, tasks = run_dag("2026-01")
        assert state == "success", tasks
    work = tmp_path_factory.mktemp("hostile")
    hook = work / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AUDIT_HOOK)
    doc = yaml.safe_load(platform.config.read_text())
    doc["workflows"]["digits"]["ingest"] = {"max_bytes": MAX_BYTES}
    config = work / "workflows.yaml"
    config.write_text(yaml.safe_dump(doc))
    paths = get_settings()
    outside = platform.home / "outside-canary"
    outside.mkdir(exist_ok=True)
    canary_image = png(next(_unique))  # an image: followed, it would be classified and stored
    (outside / "canary.png").write_bytes(canary_image)
    (outside / "secret.key").write_bytes(SECRET)
    landing = paths.landing / "digits"
    landing.mkdir(parents=True, exist_ok=True)
    log, opens = work / "ingest.log", work / "opens.log"
    env = {
        **os.environ,
        "MODELFLEET_CONFIG": str(config),
        "PYTHONPATH": str(hook),
        "MODELFLEET_TEST_OPEN_LOG": str(opens),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "modelfleet"), "ingest", "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    yield Stream(
        proc,
        landing,
        paths.lake / "digits",
        paths.quarantine / "digits",
        outside,
        canary_image,
        log,
        opens,
        db.engine(platform.database_url),
        paths.run_dir,
    )
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)


def png(seed: int) -> bytes:
    """A frozen digits test image with two pixels set from `seed`: bytes no one else lands."""
    image = Image.open(io.BytesIO(frozen_test_image())).convert("L")
    image.putpixel((0, 0), seed % 251)
    image.putpixel((27, 27), seed // 251 % 251)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


names = st.binary(min_size=1, max_size=40).map(
    lambda raw: raw.replace(b"/", b"_").replace(b"\0", b"\n")
)
suffixes = st.sampled_from([b"", b".png", b".jpg", b".PNG", b"\n.png", b"\xff.png"])
# Regular files weigh more: they are what must end in the lake or the quarantine.
kinds = st.sampled_from(["image", "image", "image", "junk", *KINDS])
trees = st.lists(st.tuples(kinds, names, suffixes, st.binary(max_size=64)), min_size=1, max_size=10)


@dataclass
class Planted:
    kind: str
    raw: bytes
    content: bytes | None = None  # a regular file's bytes


def plant(stream: Stream, tree: list[tuple[str, bytes, bytes, bytes]]) -> list[Planted]:
    """Build the tree in a hidden staging folder (never scanned), settle it, then rename
    each entry into landing: the watcher sees whole entries, at once."""
    stage = stream.landing / f".stage-{next(_unique)}"
    stage.mkdir()
    planted: list[Planted] = []
    regular: list[bytes] = []
    for index, (kind, name, suffix, noise) in enumerate(tree):
        raw = name + b"~%d" % index + suffix  # unique within the tree
        if raw.startswith(b"."):
            raw = b"_" + raw[1:]
        if kind == "dotfile":
            raw = b"." + raw
        elif kind == "partial":
            raw += b".part"
        path = stage / os.fsdecode(raw)
        content = None
        if kind == "image":
            content = png(next(_unique))
        elif kind in ("junk", "dotfile", "partial", "hard_pair"):
            content = b"junk %d " % next(_unique) + noise
        elif kind == "oversized":
            content = b"big %d " % next(_unique) + noise * 200 + b"\0" * (MAX_BYTES + 1)
        if content is not None:
            path.write_bytes(content)
        if kind in ("image", "junk", "oversized"):
            regular.append(raw)
        elif kind == "hard_pair":
            twin = raw + b"~twin"
            os.link(path, stage / os.fsdecode(twin))
            planted.append(Planted(kind, twin))
        elif kind == "link_out":
            path.symlink_to(stream.outside / "canary.png")
        elif kind == "link_secret":
            path.symlink_to(os.path.relpath(stream.outside / "secret.key", stream.landing))
        elif kind == "link_in":
            path.symlink_to(os.fsdecode(regular[-1]) if regular else "nothing-here.png")
        elif kind == "link_dangling":
            path.symlink_to(stream.outside / "missing.png")
        elif kind == "hard_out":
            os.link(stream.outside / "canary.png", path)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "socket":
            os.mknod(path, stat.S_IFSOCK | 0o600)
        elif kind == "device":
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        elif kind == "folder":
            path.mkdir()
            (path / "inside.png").write_bytes(png(next(_unique)))
        planted.append(Planted(kind, raw, content if kind not in ("hard_pair",) else None))
    entries = list(stage.iterdir())
    for entry in entries:
        os.utime(entry, (1, 1), follow_symlinks=False)  # long settled
    for entry in entries:
        os.rename(entry, stream.landing / entry.name)
    stage.rmdir()
    return planted


def final_rows(stream: Stream, digests: list[str]) -> dict[str, str]:
    with stream.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT f.sha256, f.state FROM ingest_file f JOIN workflow w ON w.id = f.workflow_id"
                " WHERE w.name = 'digits' AND f.sha256 = ANY(:d)"
            ),
            {"d": digests},
        ).all()
    return {digest: state for digest, state in rows}


def rejected_names(stream: Stream) -> dict[bytes, set[str]]:
    with stream.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name_raw, kind FROM landing_reject")).all()
    found: dict[bytes, set[str]] = {}
    for raw, kind in rows:
        found.setdefault(bytes(raw), set()).add(kind)
    return found


def wait_until_done(stream: Stream, planted: list[Planted], timeout_s: float = 90) -> None:
    left_alone = {p.raw for p in planted if p.kind in ("dotfile", "partial")}
    digests = [sha(p.content) for p in planted if p.kind in ("image", "junk", "oversized")]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stream.assert_up()
        remaining = {
            os.fsencode(n) for n in os.listdir(stream.landing) if not n.startswith(".rejected")
        }
        states = final_rows(stream, digests)
        if remaining <= left_alone and all(
            states.get(d) in ("stored", "quarantined") for d in digests
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"not done: {sorted(remaining - left_alone)}, states {states}")


def places(stream: Stream, digest: str) -> list[Path]:
    in_lake = list(stream.lake.glob(f"date=*/{digest}.*"))
    in_quarantine = list(stream.quarantine.glob(f"*/{digest}"))
    return in_lake + in_quarantine


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example costs a scan
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tree=trees)
def test_any_landing_tree_ends_well(stream, tree):
    planted = plant(stream, tree)
    wait_until_done(stream, planted)
    stream.assert_up()
    rejected = rejected_names(stream)
    for entry in planted:
        if entry.kind in ("image", "junk", "oversized"):
            (place,) = places(stream, sha(entry.content))  # exactly once
            in_quarantine = place.is_relative_to(stream.quarantine)
            assert in_quarantine == (entry.kind != "image"), (entry, place)
        elif entry.kind in REFUSED_KINDS:
            assert REFUSED_KINDS[entry.kind] in rejected.get(entry.raw, set()), entry
        else:  # a dot file or a `.part`: left alone, then cleared by the test
            path = stream.landing / os.fsdecode(entry.raw)
            assert path.read_bytes() == entry.content
            path.unlink()


def test_nothing_outside_landing_was_opened_or_stored_and_every_line_has_its_prefix(stream):
    """Runs after the property (file order): what the audit hook and the log saw."""
    stream.assert_up()
    # one more image after every example: the classifier still classifies
    last = png(next(_unique))
    target = stream.landing / "after-all.png"
    target.write_bytes(last)
    os.utime(target, (1, 1))
    wait_until_done(stream, [Planted("image", b"after-all.png", last)])
    assert final_rows(stream, [sha(last)]) == {sha(last): "stored"}

    landing_root = str(stream.landing.parent)
    opened = [ast.literal_eval(line) for line in stream.opens.read_text().splitlines()]
    assert len(opened) > 100  # the hook saw the process's opens
    relative = [(path, flags) for path, flags in opened if not os.fsdecode(path).startswith("/")]
    assert relative, "no entry was opened relative to its folder"
    for path, flags in relative:  # landing entries, relative to a landing folder's fd
        assert "/" not in os.fsdecode(path) and flags & os.O_NOFOLLOW, (path, flags)
    for path, _ in opened:
        text = os.fsdecode(path)
        assert not text.startswith(str(stream.outside)), text
        if text.startswith(landing_root + "/") or text == landing_root:
            assert text == landing_root, text  # the root alone; entries only through fds

    secrets = (SECRET, stream.canary_image)
    for root in (stream.lake.parent, stream.quarantine.parent):
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(s in data for s in secrets), path
    with stream.engine.connect() as conn:
        digests = [sha(SECRET), sha(stream.canary_image)]
        leaked = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM ingest_file WHERE sha256 = ANY(:d))"
                " + (SELECT count(*) FROM prediction WHERE image_sha256 = ANY(:d))"
            ),
            {"d": digests},
        ).scalar()
    assert leaked == 0

    lines = stream.log.read_bytes().decode("utf-8", "replace").splitlines()
    assert lines, "the ingest process logged nothing"
    bad = [line for line in lines if not LOG_PREFIX.match(line)]
    assert not bad, bad[:5]
