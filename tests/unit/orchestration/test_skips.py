"""A skip names the run's month and logs its reason before the task raises it."""

from __future__ import annotations

import logging


def test_skip_names_the_month_and_logs_the_reason_first(caplog):
    # Imported here, not at collection: importing Airflow configures its database from
    # the environment, before the integration fixtures have set it (tests/conftest.py).
    from airflow.sdk.exceptions import AirflowSkipException

    from modelfleet.orchestration.skips import skip

    with caplog.at_level(logging.INFO, logger="modelfleet.orchestration.skips"):
        exc = skip("2026-12", "no data for month 2026-12")
    assert isinstance(exc, AirflowSkipException)
    assert str(exc) == "skipped, run for 2026-12: no data for month 2026-12"
    assert [r.getMessage() for r in caplog.records] == [str(exc)]
