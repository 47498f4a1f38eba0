"""The parsers of environment values: each gets the variable's name (for its error
message) and its text, and returns None for "use the default". They read nothing
themselves; `modelfleet.settings` reads the environment and calls them."""

from __future__ import annotations

from collections.abc import Callable

from modelfleet.errors import ConfigError

EXECUTORS = ("local", "celery")
LOG_FORMATS = ("text", "json")


def optional(name: str, text: str) -> str | None:
    return text or None  # set but empty is unset


def integer(name: str, text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} must be a whole number") from None


def _one_of(name: str, text: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, case-folded; unset or empty is the first."""
    chosen = text.strip().lower() or choices[0]
    if chosen not in choices:
        raise ConfigError(f"{name}={chosen!r} is not one of {', '.join(choices)}")
    return chosen


def executor(name: str, text: str) -> str:
    return _one_of(name, text, EXECUTORS)


def log_format(name: str, text: str) -> str:
    return _one_of(name, text, LOG_FORMATS)


def switch(name: str, text: str) -> bool | None:
    text = text.strip().lower()
    if not text:
        return None
    if text in ("on", "1", "true", "yes"):
        return True
    if text in ("off", "0", "false", "no"):
        return False
    raise ConfigError(f"{name}={text!r} must be on or off")


def _digits(name: str, text: str, fits: Callable[[str], bool], wanted: str) -> int | None:
    """A whole number written in ASCII digits only (no sign, no spaces inside) for which
    `fits(text)` holds; `wanted` completes the error message ("must be ...")."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdecimal()) or not fits(text):
        raise ConfigError(f"{name}={text!r} must be {wanted}")
    return int(text)


def positive_int(name: str, text: str) -> int | None:
    return _digits(name, text, lambda t: int(t) >= 1, "a whole number of at least 1")


def port(name: str, text: str) -> int | None:
    wanted = "a port number from 1 to 65535, or 0 for none"
    return _digits(name, text, lambda t: int(t) <= 65_535, wanted)


def seconds(name: str, text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise ConfigError(f"{name}={text!r} must be a number of seconds above 0, at most 86400")
    return value


def count(name: str, text: str) -> int | None:
    return _digits(name, text, lambda t: len(t) <= 9, "a whole number from 0")


def url(name: str, text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if not text.startswith(("http://", "https://")) or len(text) <= len("https://"):
        raise ConfigError(f"{name}={text!r} must be an http:// or https:// URL")
    return text.rstrip("/")


def megapixels(name: str, text: str) -> int | None:
    value = positive_int(name, text)
    return None if value is None else value * 1_000_000
