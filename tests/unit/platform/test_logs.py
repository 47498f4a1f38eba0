"""Every line a service logs starts with its logger's prefix, whatever the message holds;
the JSON format writes one object per line."""

from __future__ import annotations

import json
import logging
import re

from modelfleet.host.logs import formatter

PREFIX = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) modelfleet\.test: "
)


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad\nvalue")
        except ValueError as error:
            exc_info = (type(error), error, error.__traceback__)
    return logging.LogRecord(
        "modelfleet.test", logging.ERROR if exc else logging.INFO, __file__, 1, message, args,
        exc_info,
    )  # fmt: skip


FORGED = "cam.png\n2026-01-01 00:00:00,000 INFO modelfleet.ingest: evil.png stored"


def test_a_name_with_a_newline_cannot_forge_a_line():
    text = formatter("text").format(record("digits %s: quarantined", FORGED))
    assert text.count("\n") == 0 and PREFIX.match(text)
    assert "cam.png\\x0a2026-01-01" in text


def test_a_traceback_keeps_the_prefix_on_every_line():
    lines = formatter("text").format(record("failed on %s", "x\x1by", exc=True)).splitlines()
    assert len(lines) > 3 and all(PREFIX.match(line) for line in lines)
    assert "x\\x1by" in lines[0]
    # the traceback's own lines, each behind the prefix and "| " (a forged one included)
    assert lines[-2].endswith(": | ValueError: bad") and lines[-1].endswith(": | value")


def test_undecodable_bytes_are_shown_not_raised():
    text = formatter("text").format(record("name %s", "\udcff.png"))
    assert text.endswith("name \\xff.png")
    text.encode("utf-8")  # printable on any UTF-8 stream


def test_json_lines_hold_the_message_and_the_traceback():
    line = formatter("json").format(record("failed on %s", FORGED, exc=True))
    assert "\n" not in line and line.isascii()
    doc = json.loads(line)
    assert doc["message"] == f"failed on {FORGED}"
    assert (doc["level"], doc["logger"]) == ("ERROR", "modelfleet.test")
    assert "ValueError" in doc["exception"]
