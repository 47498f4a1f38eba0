"""Airflow parses the DAG file when the fleet changes, not on a timer.

The one DAG file (`dags/retrain.py`) builds each workflow's DAGs from two inputs: the
fleet's files (workflows.yaml and workflows.d/*.yaml) and the months with data the
registry records (the trigger form proposes them, `months_with_data`). Nothing else
changes what it builds while the platform runs, yet it was parsed every 20 s. So the
DAG processor parses it:

- at its start;
- when the `fleet-watch` process (`run_forever`, which `modelfleet up` starts) sees either
  input change: it asks for a parse as Airflow's own "Reparse" button does, a row in
  `dag_priority_parsing_request` that the DAG processor takes within a second;
- every `RESCAN_S` regardless, a safety net for a request that never arrived.

Inputs are compared by content, not time: a `touch`, a save with no change or a month
recorded again costs no parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from modelfleet.config.load import user_files
from modelfleet.host.logs import configure_logging
from modelfleet.host.polling import poll_forever
from modelfleet.registry import db
from modelfleet.registry.store.data_months import recorded_months
from modelfleet.settings import Settings, get_settings

log = logging.getLogger("modelfleet.fleet_watch")
BUNDLE = "dags-folder"  # Airflow's default bundle: AIRFLOW__CORE__DAGS_FOLDER
DAG_FILE = "retrain.py"  # relative to the bundle (the checkout's dags/)
RESCAN_S = 600  # [dag_processor] min_file_process_interval
POLL_S = 2.0  # how often the watch reads the fleet's files
MAX_PAUSE_S = 30.0  # between ticks while requests fail


def fleet_fingerprint(settings: Settings) -> str:
    """A digest of every file the DAG file reads: names and contents (an unreadable file
    counts by its name, so that it coming back readable is a change too)."""
    digest = hashlib.sha256()
    for path in (settings.config_file, *user_files(settings.workflows_d)):
        digest.update(str(path).encode() + b"\0")
        try:
            digest.update(Path(path).read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
        digest.update(b"\0")
    return digest.hexdigest()


def months_fingerprint(lineage_url: str) -> str:
    """A digest of every workflow's recorded months with data (one small query)."""
    with Session(db.engine(lineage_url)) as session:
        months = recorded_months(session)
    return hashlib.sha256(json.dumps(months, sort_keys=True).encode()).hexdigest()


def request_parse(metadata_url: str) -> None:
    """Ask the DAG processor to parse the DAG file at its next loop (idempotent: Airflow
    keys the request by bundle and file, as it does for the UI's button)."""
    key = hashlib.md5(f"{BUNDLE}:{DAG_FILE}".encode(), usedforsecurity=False).hexdigest()
    with db.engine(metadata_url).begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dag_priority_parsing_request (id, bundle_name, relative_fileloc) "
                "VALUES (:id, :bundle, :file) ON CONFLICT (id) DO NOTHING"
            ),
            {"id": key, "bundle": BUNDLE, "file": DAG_FILE},
        )


class FleetWatch:
    """Each `tick` reads the DAG file's inputs and asks for a parse where they changed."""

    def __init__(self, fingerprint: Callable[[], str], request: Callable[[], None]) -> None:
        self.fingerprint = fingerprint
        self.request = request
        self.asked_for: str | None = None  # the fleet the last request that went through saw

    def tick(self) -> bool:
        """Whether it asked for a parse. A new watch asks once: the fleet may have changed
        while no watch ran. A request that fails raises, and the next tick asks again."""
        now = self.fingerprint()
        if now == self.asked_for:
            return False
        self.request()
        self.asked_for = now
        return True


def run_forever(poll_s: float = POLL_S) -> None:
    """`fleet-watch`: tick every `poll_s` until killed."""
    settings = get_settings()
    lineage_url = db.database_url()
    metadata_url = db.airflow_database_url(lineage_url)
    watch = FleetWatch(
        lambda: fleet_fingerprint(settings) + months_fingerprint(lineage_url),
        lambda: request_parse(metadata_url),
    )
    log.info(
        "fleet watch: following %s, %s/ and the recorded months for the DAG processor",
        settings.config_file,
        settings.workflows_d,
    )

    def tick() -> None:
        if watch.tick():
            log.info("fleet watch: its inputs changed; asked Airflow to parse %s", DAG_FILE)

    poll_forever(tick, poll_s, max_pause_s=MAX_PAUSE_S, log=log, what="fleet watch")


def main() -> None:
    """`python -m modelfleet.orchestration.dag_parsing`."""
    configure_logging()
    run_forever()


if __name__ == "__main__":
    main()
