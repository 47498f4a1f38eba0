"""What the platform keeps of others' images is private: files 0600, folders 0700."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from modelfleet.config import load_fleet
from modelfleet.datasets.deliveries import (
    delivered_files,
    ensure_delivered,
    quarantine_delivered,
)
from modelfleet.fileops import private_dir, quarantine_into, write_atomic
from modelfleet.settings import CHECKOUT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_makes_each_folder_below_its_root_private_and_none_above(tmp_path):
    root = tmp_path / "home" / "quarantine"
    leaf = private_dir(root / "digits" / "2026-01-01", under=root)
    assert [mode(p) for p in (root, root / "digits", leaf)] == [0o700] * 3
    assert mode(tmp_path / "home") != 0o700  # producers must still reach landing beside it
    with pytest.raises(ValueError, match="is not under"):
        private_dir(tmp_path / "elsewhere", under=root)


def test_an_atomic_write_is_private_even_over_an_open_file(tmp_path):
    target = tmp_path / "reason.json"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o600


def test_a_quarantined_file_is_private_beside_its_reason(tmp_path):
    source = tmp_path / "bad.png"
    source.write_bytes(b"x")
    source.chmod(0o644)
    target = quarantine_into(tmp_path / "q", source, "corrupt")
    assert mode(target) == 0o600
    assert mode(target.with_name("bad.png.reason.txt")) == 0o600
    assert mode(tmp_path / "q") == 0o700


def test_deliveries_and_their_quarantine_are_private(tmp_path):
    digits = load_fleet(CHECKOUT / "workflows.yaml").get("digits")
    root = tmp_path / "deliveries"
    month = ensure_delivered(digits, "2026-01", root)
    folders = [p for p in [root, *root.rglob("*")] if p.is_dir()]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and {mode(p) for p in files} == {0o600}
    assert {mode(p) for p in folders} == {0o700}
    bad = delivered_files(month)[0]
    quarantine = tmp_path / "quarantine"
    moved = quarantine_delivered(quarantine, "digits", "2026-01", bad, "corrupt")
    assert mode(moved) == 0o600
    assert {mode(p) for p in [quarantine, *quarantine.rglob("*")] if p.is_dir()} == {0o700}
    assert not os.path.exists(bad.path)
