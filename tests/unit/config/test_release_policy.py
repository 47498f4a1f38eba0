"""The `release:` block: approval and shadow settings, their defaults and their errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from modelfleet.config import ReleasePolicy, load_fleet, parse_duration, parse_fleet
from modelfleet.errors import ConfigError
from tests.unit.config.test_config import BASE


def _fleet(release: dict) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["workflows"]["digits"]["release"] = release
    return doc


def test_defaults_leave_every_run_unattended(fleet_file):
    release = load_fleet(fleet_file).get("digits").release
    assert release == ReleasePolicy()
    assert release.approval == "none" and release.on_timeout == "reject"
    assert release.approval_timeout == release.shadow_timeout == timedelta(hours=24)
    assert (release.shadow_fraction, release.min_shadow_requests) == (0.0, 200)
    assert release.min_shadow_agreement == 0.95


def test_a_workflow_sets_its_own_release_steps():
    doc = _fleet({"approval": "on_reject", "approval_timeout": "30m", "shadow_fraction": 0.1})
    release = parse_fleet(doc).get("digits").release
    assert release.approval == "on_reject"
    assert release.approval_timeout == timedelta(minutes=30)
    assert release.shadow_fraction == 0.1 and release.shadow_timeout == timedelta(hours=24)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("90s", timedelta(seconds=90)), ("24h", timedelta(hours=24)), (" 7d", timedelta(days=7))],
)
def test_durations(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("release", "message"),
    [
        ({"approval": "maybe"}, "release.approval: Input should be 'none', 'required'"),
        ({"on_timeout": "approve"}, "release.on_timeout: Value error, only 'reject' is supported"),
        ({"approval_timeout": "24"}, "release.approval_timeout: Value error, expected a positive"),
        ({"shadow_timeout": "0h"}, "release.shadow_timeout: Value error, expected a positive"),
        ({"approval_timeout": 3600}, "expected a positive duration such as '90s'"),
        ({"shadow_fraction": 1.5}, "release.shadow_fraction: Input should be less than"),
        ({"min_shadow_requests": 0}, "release.min_shadow_requests: Input should be greater"),
        ({"min_shadow_agreement": -1}, "release.min_shadow_agreement: Input should be greater"),
        ({"approvals": "required"}, "release.approvals: Extra inputs are not permitted"),
    ],
)
def test_bad_release_settings_name_the_workflow_and_key(release, message):
    with pytest.raises(ConfigError) as err:
        parse_fleet(_fleet(release))
    assert "workflow 'digits'" in str(err.value)
    assert message in str(err.value)
