"""Logging for the long-running services (`modelfleet serve`, `modelfleet ingest`) and
each of their worker processes.

Every line a record writes starts with its own prefix (`<time> <level> <logger>: `), so
no message can forge a line: file names and other text from outside may hold newlines or
escape sequences, and they are escaped (`modelfleet.printable`). A traceback keeps one
line per frame, each behind the record's prefix and `| `. `MODELFLEET_LOG_FORMAT=json`
writes one JSON object per record instead, for log shippers.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime

from modelfleet.printable import printable
from modelfleet.settings import get_settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """`TEXT_FORMAT` with the message escaped onto one line; a traceback or stack follows
    on lines of their own, each behind the record's prefix."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = copy.copy(record)
        line.msg, line.args = printable(record.getMessage()), None
        line.exc_info, line.exc_text, line.stack_info = None, None, None
        text = super().format(line)
        detail: list[str] = []
        if record.exc_info:
            detail += self.formatException(record.exc_info).splitlines()
        elif record.exc_text:
            detail += record.exc_text.splitlines()
        if record.stack_info:
            detail += self.formatStack(record.stack_info).splitlines()
        if not detail:
            return text
        line.msg = "| "
        prefix = super().format(line)
        return "\n".join([text, *(prefix + printable(d) for d in detail)])


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, process, message,
    and the traceback as `exception` where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str)  # ASCII only: control characters are escaped


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of `MODELFLEET_LOG_FORMAT` (`text` or `json`)."""
    return JsonFormatter() if log_format == "json" else OneLineFormatter()


def configure_logging(log_format: str | None = None) -> None:
    """Log INFO and above to stderr, in `log_format` (default: the setting). Python
    warnings go through logging too, so that they get the prefix."""
    if log_format is None:
        log_format = get_settings().log_format
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.captureWarnings(True)
