"""The `monitor:` block: its defaults and its errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from modelfleet.config import MonitorPolicy, load_fleet, parse_fleet
from modelfleet.errors import ConfigError
from tests.unit.config.test_config import BASE


def _fleet(monitor: dict) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["workflows"]["digits"]["monitor"] = monitor
    return doc


def test_defaults(fleet_file):
    monitor = load_fleet(fleet_file).get("digits").monitor
    assert monitor == MonitorPolicy()
    assert (monitor.sample_rate, monitor.schedule, monitor.window) == (
        0.1,
        "@hourly",
        timedelta(hours=1),
    )
    assert not monitor.retrain_on_alert and monitor.min_hours_between_retrains == 24


def test_the_shipped_defaults_block_says_what_the_code_says():
    shipped = yaml.safe_load(Path("workflows.yaml").read_text())["defaults"]["monitor"]
    assert MonitorPolicy.model_validate(shipped) == MonitorPolicy()


def test_a_workflow_sets_its_own_monitors():
    doc = _fleet({"window": "24h", "thresholds": {"input_psi": 0.5}, "retrain_on_alert": True})
    monitor = parse_fleet(doc).get("digits").monitor
    assert monitor.window == timedelta(hours=24) and monitor.thresholds.input_psi == 0.5
    assert monitor.thresholds.prediction_psi == 0.2 and monitor.retrain_on_alert


@pytest.mark.parametrize(
    ("monitor", "message"),
    [
        ({"sample_rate": 2}, "monitor.sample_rate: Input should be less than or equal to 1"),
        ({"schedule": "hourly"}, "monitor.schedule: Value error, 'hourly' is not a cron"),
        ({"window": "1 hour"}, "monitor.window: Value error, expected a positive duration"),
        ({"thresholds": {"input_psi": 0}}, "monitor.thresholds.input_psi: Input should be"),
        ({"thresholds": {"psi": 1}}, "monitor.thresholds.psi: Extra inputs are not permitted"),
        ({"max_rows": 10}, "monitor.max_rows: Input should be greater than or equal to 100"),
    ],
)
def test_bad_monitor_settings_name_the_workflow_and_key(monitor, message):
    with pytest.raises(ConfigError) as err:
        parse_fleet(_fleet(monitor))
    assert "workflow 'digits'" in str(err.value)
    assert message in str(err.value)
