from __future__ import annotations

import io

from PIL import Image

from modelfleet.datasets.manifest import describe, read_manifest, sha256_bytes, write_manifest


def _png(size=(28, 28), mode="L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=128 if mode == "L" else (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_describe_reads_the_real_file(tmp_path):
    data = _png((30, 20), "RGB")
    (tmp_path / "a.png").write_bytes(data)
    row = describe(tmp_path, "a.png", "scratch", "2026-01")
    assert row.sha256 == sha256_bytes(data)
    assert (row.width, row.height, row.channels, row.mode) == (30, 20, 3, "RGB")
    assert row.bytes == len(data)
    assert row.decoded and row.error == ""
    assert row.month == "2026-01"
    # a uniform (1, 2, 3) image: grey level ~2/255, no contrast
    assert row.brightness < 0.01 and row.contrast == 0.0


def test_corrupt_file_is_a_row_with_the_reason(tmp_path):
    (tmp_path / "bad.png").write_bytes(_png()[:40])
    row = describe(tmp_path, "bad.png", "0", "2026-01")
    assert not row.decoded
    assert "not a decodable image" in row.error


def test_manifest_round_trip_is_sorted_and_typed(tmp_path):
    for name in ("b.png", "a.png"):
        (tmp_path / name).write_bytes(_png())
    rows = [describe(tmp_path, n, "0", "2026-01") for n in ("b.png", "a.png")]
    write_manifest(tmp_path, rows)
    back = read_manifest(tmp_path)
    assert [r.path for r in back] == ["a.png", "b.png"]
    assert back[0] == rows[1]
