"""The lake keeps a pixel-only landed file by hard link, and falls back to writing the
bytes that were classified when the file changed after it was read; shards of watchers
split the landed files."""

from __future__ import annotations

import os
from pathlib import Path

from modelfleet.ingest.files import in_shard
from modelfleet.ingest.lake import FileIdentity, Lake


def landed(tmp_path: Path, data: bytes) -> tuple[Path, FileIdentity]:
    path = tmp_path / "landing" / "cam_1.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path, FileIdentity.of(os.stat(path))


def test_an_unchanged_landed_file_is_linked_not_copied(tmp_path):
    source, identity = landed(tmp_path, b"pixels")
    lake = Lake(str(tmp_path / "lake"))
    target = lake.image_path("digits", "2026-11-28", "ab" * 32, "png")
    lake.put_landed(target, source, b"pixels", identity)
    assert os.stat(target).st_ino == os.stat(source).st_ino
    source.unlink()  # as the watcher does once the row is `stored`
    assert Path(target).read_bytes() == b"pixels"
    assert [p.name for p in Path(target).parent.iterdir()] == [Path(target).name]  # no tmp left


def test_a_file_rewritten_after_it_was_read_stores_the_bytes_classified(tmp_path):
    source, identity = landed(tmp_path, b"classified")
    source.write_bytes(b"rewritten by the camera")  # same name, new content
    lake = Lake(str(tmp_path / "lake"))
    target = lake.image_path("digits", "2026-11-28", "cd" * 32, "png")
    lake.put_landed(target, source, b"classified", identity)
    assert Path(target).read_bytes() == b"classified"
    assert os.stat(target).st_ino != os.stat(source).st_ino


def test_a_vanished_landed_file_is_written_from_memory(tmp_path):
    source, identity = landed(tmp_path, b"pixels")
    source.unlink()
    lake = Lake(str(tmp_path / "lake"))
    target = lake.image_path("digits", "2026-11-28", "ef" * 32, "png")
    lake.put_landed(target, source, b"pixels", identity)
    assert Path(target).read_bytes() == b"pixels"


def test_shards_split_the_files_between_them(tmp_path):
    files = [tmp_path / f"cam_{i:04d}.png" for i in range(200)]
    shards = [in_shard(files, index, 3) for index in range(3)]
    assert sorted(f for shard in shards for f in shard) == files  # each file exactly once
    assert all(len(shard) > 40 for shard in shards)
    assert in_shard(files, 0, 1) == files


def test_a_symlink_or_a_file_with_another_name_is_copied_not_linked(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"pixels")
    link = tmp_path / "landing" / "cam_2.png"
    link.parent.mkdir()
    link.symlink_to(outside)
    second = tmp_path / "landing" / "cam_3.png"
    os.link(outside, tmp_path / "landing" / "cam_3_other_name.png")
    os.link(outside, second)
    lake = Lake(str(tmp_path / "lake"))
    for landed in (link, second):
        target = lake.image_path("digits", "2026-11-28", landed.stem * 8, "png")
        lake.put_landed(target, landed, b"pixels", FileIdentity.of(os.stat(landed)))
        assert Path(target).read_bytes() == b"pixels"
        assert os.stat(target).st_ino != os.stat(outside).st_ino  # its own copy


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
