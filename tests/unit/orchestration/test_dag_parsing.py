"""The fleet watch on real files: a parse is asked for when the fleet's files change,
and only then (the request itself, a row in Airflow's metadata database, is faked here;
tests/integration/up/test_workflow_add.py sees a real DAG processor follow it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelfleet.orchestration.dag_parsing import FleetWatch, fleet_fingerprint
from modelfleet.settings import CONFIG_ENV, HOME_ENV, get_settings


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose shipped workflows.yaml is a copy; returns its workflows.d."""
    config = tmp_path / "workflows.yaml"
    config.write_text("workflows: {}\n")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(CONFIG_ENV, str(config))
    user = get_settings().workflows_d
    user.mkdir(parents=True)
    return user


class Requests:
    def __init__(self) -> None:
        self.made = 0
        self.failing = False

    def __call__(self) -> None:
        if self.failing:
            raise ConnectionError("metadata database away")
        self.made += 1


def watch(requests: Requests) -> FleetWatch:
    return FleetWatch(lambda: fleet_fingerprint(get_settings()), requests)


def test_a_new_watch_asks_once_then_only_when_the_fleet_changes(fleet: Path) -> None:
    requests = Requests()
    watcher = watch(requests)
    assert watcher.tick() and requests.made == 1  # the fleet may have changed unwatched
    assert not watcher.tick() and requests.made == 1

    (fleet / "line.yaml").write_text("line: {}\n")  # `workflow add`
    assert watcher.tick() and requests.made == 2
    (fleet / "line.yaml").write_text("line: {architecture: lenet}\n")  # edited by hand
    assert watcher.tick() and requests.made == 3
    (fleet / "line.yaml").rename(fleet / ".line.yaml.archived")  # `workflow remove`
    assert watcher.tick() and requests.made == 4
    get_settings().config_file.write_text("workflows: {a: {}}\n")  # the shipped file
    assert watcher.tick() and requests.made == 5
    assert not watcher.tick() and requests.made == 5


def test_a_file_touched_or_saved_unchanged_costs_no_parse(fleet: Path) -> None:
    (fleet / "line.yaml").write_text("line: {}\n")
    requests = Requests()
    watcher = watch(requests)
    watcher.tick()
    (fleet / "line.yaml").touch()
    (fleet / "line.yaml").write_text("line: {}\n")
    (fleet / "notes.txt").write_text("not a workflow file")  # the DAG file never reads it
    assert not watcher.tick() and requests.made == 1


def test_a_request_that_fails_is_made_again_at_the_next_tick(fleet: Path) -> None:
    requests = Requests()
    watcher = watch(requests)
    watcher.tick()
    (fleet / "line.yaml").write_text("line: {}\n")
    requests.failing = True
    with pytest.raises(ConnectionError):
        watcher.tick()
    requests.failing = False
    assert watcher.tick() and requests.made == 2


def test_an_unreadable_file_counts_and_its_return_is_a_change(fleet: Path) -> None:
    (fleet / "line.yaml").mkdir()  # a directory named like a file: unreadable as one
    before = fleet_fingerprint(get_settings())
    (fleet / "line.yaml").rmdir()
    (fleet / "line.yaml").write_text("line: {}\n")
    assert fleet_fingerprint(get_settings()) != before
