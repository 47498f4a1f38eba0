"""Text that prints on one line as what it is: names and messages that came from outside,
with control characters and bytes that are not UTF-8 escaped.

A landing file may be named anything a filesystem allows: a newline and a fake log line,
an ANSI escape, a right-to-left override, bytes that do not decode. `display_name` gives
such a name an unambiguous, printable form for people (logs, the database, the lake's
manifest, quarantine reasons); its raw bytes are kept beside it where it is stored.
`printable` is the same escaping for whole log messages.
"""

from __future__ import annotations

import unicodedata

# Control and format characters (bidi overrides, zero widths), line and paragraph
# separators, and lone surrogates: what can break a line or disguise text.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# What a `surrogateescape` decode makes of the bytes 0x80..0xFF that are not UTF-8.
_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def _escape(char: str) -> str:
    code = ord(char)
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"  # a raw byte (always >= 0x80)
    if code < 0x80:
        return f"\\x{code:02x}"  # an ASCII control character (< 0x80: never a raw byte)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _unprintable(char: str) -> bool:
    return unicodedata.category(char) in _UNPRINTABLE


def printable(text: str) -> str:
    """`text` on one line: control, format and separator characters escaped (`\\x0a`,
    `\\x1b`, `\\u202e`), and bytes kept by a `surrogateescape` decode as `\\xNN`."""
    if text.isprintable() and text.isascii():  # the common case, without a loop
        return text
    return "".join(_escape(c) if _unprintable(c) else c for c in text)


def display_name(raw: bytes) -> str:
    """A file name as text for people: UTF-8 where it decodes, `\\xNN` for each byte that
    does not, control characters escaped as in `printable`, and `\\` doubled, so that
    two different names never look the same."""
    text = raw.decode("utf-8", "surrogateescape")
    return "".join("\\\\" if c == "\\" else _escape(c) if _unprintable(c) else c for c in text)
