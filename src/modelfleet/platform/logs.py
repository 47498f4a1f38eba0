"""Logging for the long-running services (`modelfleet serve`, `modelfleet ingest`) and
each of their worker processes."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
