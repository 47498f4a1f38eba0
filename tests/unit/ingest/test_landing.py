"""A landing folder read as untrusted input: every kind of entry that is not a regular file
of its own is refused without being read, nothing blocks, odd names survive as bytes, and
refused entries move into `.rejected/` relative to the folder's descriptor."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from modelfleet.ingest.files import quarantine_file
from modelfleet.ingest.landing import (
    REJECTED,
    Entry,
    FileIdentity,
    LandedFile,
    LandingError,
    LandingFolder,
    Refusal,
)

SECRET = b"CANARY: nobody may read this"
LIMIT = 1_000_000


def settle(path: Path) -> None:
    """Make an entry older than the settle time (the link itself, for a link)."""
    old = time.time() - 60
    os.utime(path, (old, old), follow_symlinks=False)


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """landing/wf with one entry of every kind, and a secret outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes(SECRET)
    folder = tmp_path / "landing" / "wf"
    folder.mkdir(parents=True)
    (folder / "good.png").write_bytes(b"an image")
    (folder / "link_out.png").symlink_to(secret)
    (folder / "link_in.png").symlink_to("good.png")
    (folder / "link_dangling.png").symlink_to(outside / "missing.png")
    os.link(secret, folder / "hard_out.png")
    os.mkfifo(folder / "fifo.png")
    os.mknod(folder / "socket.png", stat.S_IFSOCK | 0o600)
    (folder / "folder.png").mkdir()
    (folder / "folder.png" / "inside.png").write_bytes(b"in a folder")
    (folder / os.fsdecode(b"weird\n\xff.png")).write_bytes(b"odd name")
    (folder / "incoming.png.part").write_bytes(b"half")
    (folder / ".hidden.png").write_bytes(b"hidden")
    for entry in folder.iterdir():
        settle(entry)
    return {"folder": folder, "secret": secret}


def read_all(folder: LandingFolder) -> dict[bytes, LandedFile | Refusal | None]:
    return {e.raw: folder.read(e, time.time(), LIMIT) for e in folder.entries()}


def test_only_regular_files_of_their_own_are_read(tree):
    with LandingFolder.open(tree["folder"]) as folder:
        results = read_all(folder)
    kinds = {
        raw: r.kind if isinstance(r, Refusal) else type(r).__name__ for raw, r in results.items()
    }
    assert kinds == {
        b"good.png": "LandedFile",
        b"weird\n\xff.png": "LandedFile",
        b"link_out.png": "symlink",
        b"link_in.png": "symlink",
        b"link_dangling.png": "symlink",
        b"hard_out.png": "hard_link",
        b"fifo.png": "fifo",
        b"socket.png": "socket",
        b"folder.png": "directory",
    }  # `.part` and dot files are not even listed
    good = results[b"good.png"]
    assert isinstance(good, LandedFile) and good.data == b"an image"
    assert good.sha256 == hashlib.sha256(b"an image").hexdigest()
    assert all(not isinstance(r, LandedFile) or SECRET not in r.data for r in results.values())
    link = results[b"link_out.png"]
    assert isinstance(link, Refusal)
    assert link.inode == os.lstat(tree["folder"] / "link_out.png").st_ino  # the link's own


def test_an_odd_name_keeps_its_bytes_and_prints_escaped(tree):
    with LandingFolder.open(tree["folder"]) as folder:
        (entry,) = [e for e in folder.entries() if e.raw.startswith(b"weird")]
        landed = folder.read(entry, time.time(), LIMIT)
    assert entry.raw == b"weird\n\xff.png"
    assert entry.display == "weird\\x0a\\xff.png"
    assert isinstance(landed, LandedFile) and landed.data == b"odd name"


@pytest.mark.parametrize("name", ["fifo.png", "socket.png", "link_out.png", "folder.png"])
def test_an_entry_that_turned_special_after_the_listing_is_refused_without_blocking(tree, name):
    """As if it had been a regular file when listed: opened with O_NOFOLLOW|O_NONBLOCK, and
    judged by what was opened. A FIFO with no writer would block a plain open forever."""
    results: list[object] = []
    with LandingFolder.open(tree["folder"]) as folder:
        reader = threading.Thread(
            target=lambda: results.append(
                folder.read(Entry(name.encode(), regular=True), time.time(), LIMIT)
            ),
            daemon=True,
        )
        reader.start()
        reader.join(30)  # a hang guard, not a timing assertion
        assert not reader.is_alive(), f"reading {name} blocked"
    (refusal,) = results
    assert isinstance(refusal, Refusal) and refusal.movable
    assert (
        refusal.kind
        == {
            "fifo.png": "fifo",
            "socket.png": "socket",
            "link_out.png": "symlink",
            "folder.png": "directory",
        }[name]
    )


def test_refused_entries_move_into_a_private_rejected_folder_untouched(tree):
    folder_path = tree["folder"]
    with LandingFolder.open(folder_path) as folder:
        refused = [r for r in read_all(folder).values() if isinstance(r, Refusal)]
        for refusal in refused:
            folder.reject(refusal)
    rejected = folder_path / REJECTED
    assert stat.S_IMODE(rejected.stat().st_mode) == 0o700
    moved = {p.name: p for p in rejected.iterdir()}
    assert sorted(moved) == sorted(r.rejected_name for r in refused)
    assert sorted(p.name for p in folder_path.iterdir()) == sorted(
        [".hidden.png", REJECTED, "good.png", "incoming.png.part", "weird\n\udcff.png"]
    )
    by_kind = {r.kind: moved[r.rejected_name] for r in refused if r.kind != "symlink"}
    assert stat.S_ISFIFO(by_kind["fifo"].lstat().st_mode)
    assert (by_kind["directory"] / "inside.png").read_bytes() == b"in a folder"
    assert tree["secret"].read_bytes() == SECRET  # the hard link's other name is untouched


def test_a_rejected_folder_that_is_a_link_is_never_used(tree):
    elsewhere = tree["secret"].parent
    (tree["folder"] / REJECTED).symlink_to(elsewhere)
    with LandingFolder.open(tree["folder"]) as folder:
        fifo = folder.read(Entry(b"fifo.png", regular=False), time.time(), LIMIT)
        assert isinstance(fifo, Refusal)
        with pytest.raises(OSError):
            folder.reject(fifo)
    assert (tree["folder"] / "fifo.png").exists()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["secret.png"]


def test_a_landing_folder_that_is_a_link_is_refused(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "wf").symlink_to(real)
    with pytest.raises(LandingError, match="not a link"):
        LandingFolder.open(tmp_path / "landing" / "wf")
    assert LandingFolder.open(tmp_path / "landing" / "absent") is None


def test_a_file_not_settled_is_left_for_a_later_scan(tmp_path):
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "fresh.png").write_bytes(b"being written")
    with LandingFolder.open(tmp_path / "wf") as folder:
        (entry,) = folder.entries()
        assert folder.read(entry, time.time(), LIMIT) is None
        assert isinstance(folder.read(entry, time.time() + 5, LIMIT), LandedFile)


def test_a_file_over_the_limit_is_hashed_in_chunks_and_copied_out_whole(tmp_path):
    (tmp_path / "wf").mkdir()
    big = os.urandom(3 << 20)
    (tmp_path / "wf" / "big.png").write_bytes(big)
    settle(tmp_path / "wf" / "big.png")
    with LandingFolder.open(tmp_path / "wf") as folder:
        (entry,) = folder.entries()
        landed = folder.read(entry, time.time(), 1000)
    assert isinstance(landed, LandedFile)
    assert landed.data == b"" and landed.handle is not None and landed.size == len(big)
    assert landed.sha256 == hashlib.sha256(big).hexdigest()
    root = tmp_path / "quarantine"
    copy = quarantine_file(root, root / "wf" / "day", landed.sha256, landed.handle, {"r": 1})
    landed.close()
    assert copy.read_bytes() == big and copy.name == landed.sha256
    assert json.loads(copy.with_name(copy.name + ".json").read_text()) == {"r": 1}
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert all(
        stat.S_IMODE(p.stat().st_mode) == 0o700 for p in (root, root / "wf", root / "wf" / "day")
    )


def test_a_processed_file_is_removed_only_if_unchanged(tmp_path):
    (tmp_path / "wf").mkdir()
    path = tmp_path / "wf" / "a.png"
    path.write_bytes(b"first")
    with LandingFolder.open(tmp_path / "wf") as folder:
        (entry,) = folder.entries()
        seen = FileIdentity.of(os.stat(path))
        path.write_bytes(b"rewritten by the camera")
        assert folder.remove_if_unchanged(entry, seen) == "changed" and path.exists()
        assert folder.remove_if_unchanged(entry, FileIdentity.of(os.stat(path))) == "removed"
        assert folder.remove_if_unchanged(entry, seen) == "gone"


# Run in a child process: an audit hook cannot be removed from the process it is added to.
AUDITED_SCAN = """
import os, sys, time
from pathlib import Path
opened = []
sys.addaudithook(lambda event, args: event == "open" and opened.append(args))
from modelfleet.ingest.landing import LandingFolder, Refusal
with LandingFolder.open(Path(sys.argv[1])) as folder:
    for entry in folder.entries():
        result = folder.read(entry, time.time(), 10**6)
        if isinstance(result, Refusal) and result.movable:
            folder.reject(result)
print(repr([(path, flags) for path, _, flags in opened if isinstance(path, str)]))
"""


def test_special_entries_are_never_opened_and_nothing_outside_is(tree):
    done = subprocess.run(
        [sys.executable, "-c", AUDITED_SCAN, str(tree["folder"])],
        capture_output=True,
        text=True,
        check=True,
    )
    opened = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    relative = [(path, flags) for path, flags in opened if not path.startswith("/")]
    assert sorted(path for path, _ in relative) == sorted(
        ["wf", "good.png", "hard_out.png", "weird\n\udcff.png", REJECTED]
    )  # the folder, its regular files (the hard link refused after fstat, unread), .rejected/
    assert all(flags & os.O_NOFOLLOW for _, flags in relative)
    outside = str(tree["secret"].parent)
    assert not [path for path, _ in opened if path.startswith(outside)]


def test_a_unix_socket_bound_in_landing_is_refused(tmp_path):
    folder = tmp_path / "wf"
    folder.mkdir()
    server = socket.socket(socket.AF_UNIX)
    cwd = os.getcwd()
    os.chdir(folder)  # bind a short relative name: socket paths are limited to 108 bytes
    try:
        server.bind("live.png")
    finally:
        os.chdir(cwd)
    try:
        settle(folder / "live.png")
        with LandingFolder.open(folder) as landing:
            (entry,) = landing.entries()
            refusal = landing.read(entry, time.time(), LIMIT)
            forced = landing.read(Entry(entry.raw, regular=True), time.time(), LIMIT)
    finally:
        server.close()
    assert isinstance(refusal, Refusal) and refusal.kind == "socket"
    assert isinstance(forced, Refusal) and forced.kind == "socket"


def test_the_same_hard_link_landed_again_leaves_landing(tree):
    """Its name in `.rejected/` already links the same file, where a rename does nothing."""
    folder_path = tree["folder"]
    for _ in range(2):
        with LandingFolder.open(folder_path) as folder:
            hard = folder.read(Entry(b"hard_out.png", regular=True), time.time(), LIMIT)
            assert isinstance(hard, Refusal) and hard.kind == "hard_link"
            folder.reject(hard)
        assert not (folder_path / "hard_out.png").exists()
        os.link(tree["secret"], folder_path / "hard_out.png")  # the producer does it again
    assert len(list((folder_path / REJECTED).iterdir())) == 1
    assert tree["secret"].read_bytes() == SECRET


def test_a_landing_folder_that_is_a_dangling_link_never_stops_the_watch(tmp_path):
    from modelfleet.ingest.landing_watch import LandingWatch

    (tmp_path / "good").mkdir()
    (tmp_path / "bad").symlink_to(tmp_path / "nowhere")
    watch = LandingWatch([tmp_path / "good", tmp_path / "bad"], threading.Event())
    try:
        watch.arm()
        assert watch.armed
        watch.disarm()
        assert not watch.armed
    finally:
        watch.close()
