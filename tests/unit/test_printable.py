"""Names from outside print on one line, unambiguously."""

from __future__ import annotations

import pytest

from modelfleet.printable import display_name, printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"cam_01.png", "cam_01.png"),
        (
            b"cam\n2026-01-01 00:00:00,000 INFO x: stored",
            "cam\\x0a2026-01-01 00:00:00,000 INFO x: stored",
        ),
        (b"\xff\xfe.png", "\\xff\\xfe.png"),  # not UTF-8: the raw bytes
        ("café.png".encode(), "café.png"),  # UTF-8 stays readable
        ("\u202egnp.exe".encode(), "\\u202egnp.exe"),  # a right-to-left override
        ("\u0085".encode(), "\\u0085"),  # a code point, not the byte 0x85
        (b"\x1b[31mred", "\\x1b[31mred"),
        (b"back\\x41slash", "back\\\\x41slash"),  # not to be read as an escape
    ],
)
def test_a_display_name_is_printable_and_names_what_it_shows(raw, shown):
    assert display_name(raw) == shown
    assert display_name(raw).isprintable()


def test_two_names_never_display_the_same():
    names = [b"\xff", "\u00ff".encode(), b"\\xff", b"\\\\xff", b"\\u00ff", b"\n", b"\\x0a"]
    assert len({display_name(n) for n in names}) == len(names)


def test_a_message_keeps_its_text_and_loses_its_line_breaks():
    assert printable("plain message") == "plain message"
    assert printable("a\nb\r\tc \u2028 é \udcff") == "a\\x0ab\\x0d\\x09c \\u2028 é \\xff"
