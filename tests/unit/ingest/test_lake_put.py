"""The lake writes whole files or nothing, private to the platform's user; shards of
watchers split the landed files by the bytes of their names."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from modelfleet.ingest.landing import Entry
from modelfleet.ingest.scan import in_shard
from modelfleet.lake import Lake


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_image_is_written_whole_and_private(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    target = lake.image_path("digits", "2026-11-28", "ab" * 32, "png")
    lake.put(target, b"pixels")
    assert Path(target).read_bytes() == b"pixels"
    assert [p.name for p in Path(target).parent.iterdir()] == [Path(target).name]  # no tmp left
    assert mode(target) == 0o600
    for folder in (tmp_path / "lake", tmp_path / "lake" / "digits", Path(target).parent):
        assert mode(folder) == 0o700, folder


def test_a_lake_made_before_with_open_modes_is_made_private(tmp_path):
    (tmp_path / "lake" / "digits").mkdir(parents=True, mode=0o755)
    os.chmod(tmp_path / "lake", 0o755)
    lake = Lake(str(tmp_path / "lake"))
    target = lake.image_path("digits", "2026-11-28", "cd" * 32, "png")
    lake.put(target, b"pixels")
    assert mode(tmp_path / "lake") == mode(tmp_path / "lake" / "digits") == 0o700


def test_a_rewritten_image_replaces_its_own_copy(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    target = lake.image_path("digits", "2026-11-28", "ef" * 32, "png")
    lake.put(target, b"first attempt")
    lake.put(target, b"resumed")  # a watcher killed after the write resumes the same file
    assert Path(target).read_bytes() == b"resumed"
    assert len(list(Path(target).parent.iterdir())) == 1


def test_shards_split_the_files_between_them():
    entries = [Entry(f"cam_{i:04d}.png".encode(), True) for i in range(200)]
    entries += [Entry(b"cam_\xff\xfe_%d.png" % i, True) for i in range(20)]  # not UTF-8
    shards = [in_shard(entries, index, 3) for index in range(3)]
    assert sorted((e for shard in shards for e in shard), key=lambda e: e.raw) == sorted(
        entries, key=lambda e: e.raw
    )  # each file exactly once
    assert all(len(shard) > 40 for shard in shards)
    assert in_shard(entries, 0, 1) == entries


def test_temporaries_left_by_a_killed_writer_are_swept_and_fresh_ones_kept(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    partition = Path(lake.partition("digits", "2026-11-28"))
    partition.mkdir(parents=True)
    stale, fresh, image = partition / ".dead.tmp", partition / ".live.tmp", partition / "a.png"
    for path in (stale, fresh, image):
        path.write_bytes(b"x")
    an_hour_ago = os.stat(stale).st_mtime - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    os.utime(image, (an_hour_ago, an_hour_ago))
    assert lake.sweep_temporaries("digits", "2026-11-28") == 1
    assert sorted(p.name for p in partition.iterdir()) == [".live.tmp", "a.png"]
    assert lake.sweep_temporaries("digits", "1999-01-01") == 0  # no such partition
