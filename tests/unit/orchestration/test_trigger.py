"""`modelfleet retrain` against Airflow REST responses recorded from real runs.

The files in `recorded/` are the exchanges of four real `retrain__digits` runs with
Airflow 3.3 (released, no data, rejected by the gate, stopped by validation), taken by
recording the client's transport (polls that changed nothing dropped, the login token and
each task instance's `dag_version` blanked out), plus the registry rows each run wrote.
They are replayed through `httpx.MockTransport`: only the HTTP boundary is fake.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelfleet.cli import main, releases
from modelfleet.config import Fleet, Workflow, load_fleet
from modelfleet.errors import ConfigError, PlatformError
from modelfleet.orchestration import outcomes, trigger
from modelfleet.orchestration.airflow_client import AirflowClient
from modelfleet.orchestration.trigger import RetrainRequest, RunRecords

RECORDED = Path(__file__).parent / "recorded"
RUN_SEGMENT = re.compile(r"/dagRuns/[^/]+")


def _key(method: str, url: str) -> tuple[str, str]:
    """Requests match by method and path, whatever the run id (ours is made anew)."""
    return method, RUN_SEGMENT.sub("/dagRuns/RUN", httpx.URL(url).path)


class Replay:
    """Serves a recording in order per (method, path); the last answer repeats."""

    def __init__(self, name: str, overrides: dict[tuple[str, str], Any] | None = None) -> None:
        doc = json.loads((RECORDED / f"{name}.json").read_text())
        self.registry = RunRecords(**doc["registry"])
        self.answers: dict[tuple[str, str], list[tuple[int, Any]]] = defaultdict(list)
        for exchange in doc["exchanges"]:
            key = _key(exchange["method"], exchange["url"])
            self.answers[key].append((exchange["status"], exchange["response"]))
        for (method, path), answer in (overrides or {}).items():
            self.answers[(method, path)] = [answer]
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        key = _key(request.method, str(request.url))
        queue = self.answers.get(key)
        if not queue:
            return httpx.Response(404, json={"detail": f"not recorded: {key}"})
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(status, json=body)

    def client(self) -> AirflowClient:
        return AirflowClient("http://airflow", "admin", "pw", httpx.MockTransport(self))

    def posted(self, path_end: str) -> list[dict[str, Any]]:
        return [
            json.loads(r.content)
            for r in self.sent
            if r.method in ("POST", "PATCH") and r.url.path.endswith(path_end)
        ]


@pytest.fixture()
def fleet(fleet_file: Path) -> Fleet:
    return load_fleet(fleet_file)


def run_to_the_end(
    replay: Replay, fleet: Fleet, month: str | None = "2026-02"
) -> tuple[trigger.RetrainOutcome, list[tuple[str, str]]]:
    client = replay.client()
    run = trigger.trigger(client, fleet, RetrainRequest("digits", month, unpause=True), say=print)
    seen: list[tuple[str, str]] = []
    result = trigger.follow(
        client,
        run,
        timeout_s=60,
        progress=lambda task, state: seen.append((task, state)),
        records=lambda _run: replay.registry,
        poll_s=0,
    )
    return result, seen


def test_a_released_run_exits_0_with_its_version_and_gate_verdict(fleet: Fleet) -> None:
    result, seen = run_to_the_end(Replay("released"), fleet)

    assert (result.outcome, result.exit_code, result.version) == (outcomes.PROMOTED, 0, "v1.0.0")
    text = "\n".join(trigger.describe(result))
    assert "released digits@v1.0.0 (digits 2026-02): now in production" in text
    assert "gate passed:" in text
    assert "ok   min_accuracy: accuracy 0.9443 >= required 0.8" in text
    assert seen[0] == ("snapshot", "running")
    assert seen[-1] == ("smoke", "success")
    assert [state for task, state in seen if task == "train"] == ["running", "success"]


def test_a_month_without_data_exits_4_with_the_snapshot_reason(fleet: Fleet) -> None:
    result, _ = run_to_the_end(Replay("nodata"), fleet, month="2027-06")

    assert (result.outcome, result.exit_code, result.task) == (outcomes.NO_DATA, 4, "snapshot")
    assert len(result.reason) == 1
    assert result.reason[0].startswith("Skipping task. reason=workflow 'digits': no data for month")
    assert "ti_id" not in result.reason[0]  # where a record came from is not why
    assert trigger.describe(result)[0] == "skipped: no data for digits 2027-06"


def test_a_rejected_candidate_exits_3_with_the_failed_checks(fleet: Fleet) -> None:
    replay = Replay("rejected")
    replay.registry = RunRecords(
        gate={
            "passed": False,
            "override_actor": None,
            "override_reason": None,
            "checks": [
                {
                    "name": "min_accuracy",
                    "passed": False,
                    "detail": "accuracy 0.9387 < required 0.999",
                },
                {"name": "min_macro_f1", "passed": True, "detail": "macro-F1 0.9 >= required 0.5"},
            ],
        }
    )
    result, _ = run_to_the_end(replay, fleet, month="2026-03")

    assert (result.outcome, result.exit_code, result.version) == (outcomes.GATE_REJECTED, 3, None)
    text = trigger.describe(result)
    assert text[0] == "rejected by the gate (digits 2026-03): production is unchanged"
    assert "    FAIL min_accuracy: accuracy 0.9387 < required 0.999" in text
    assert not any("min_macro_f1" in line for line in text)  # only what failed
    assert any(line.startswith("to release it anyway: modelfleet approve digits") for line in text)


def test_a_validation_failure_exits_1_with_the_task_and_its_log_tail(fleet: Fleet) -> None:
    result, _ = run_to_the_end(Replay("validation"), fleet, month="2026-04")

    assert (result.outcome, result.exit_code, result.task) == (
        outcomes.VALIDATION_STOPPED,
        1,
        "validate",
    )
    assert len(result.reason) <= trigger.LOG_TAIL
    assert "ValidationFailed: digits 2026-04: data failed validation; nothing was trained." in (
        result.reason
    )
    assert "  - min_rows: expect_table_row_count_to_be_between observed 192" in result.reason
    assert not any(line.startswith("::") for line in result.reason)
    assert (
        trigger.describe(result)[0] == "failed at validate (digits 2026-04): stopped by validation"
    )


def test_without_a_month_the_run_takes_the_latest_month_with_data(fleet: Fleet) -> None:
    replay = Replay("nodata")
    asked: list[tuple[str, datetime]] = []

    def latest(workflow: Workflow, at: datetime) -> str:  # the registry's answer
        asked.append((workflow.name, at))
        return "2026-06"

    run = trigger.trigger(replay.client(), fleet, RetrainRequest("digits"), print, latest)

    (body,) = replay.posted("/dagRuns")
    assert body["conf"] == {"month": "2026-06"}  # named, so the run id and report say it
    assert run.month == "2026-06" and run.run_id.startswith("cli__2026-06__")
    assert [name for name, _ in asked] == ["digits"]


def test_with_no_month_with_data_the_run_takes_its_data_interval(fleet: Fleet) -> None:
    replay = Replay("nodata")
    run = trigger.trigger(
        replay.client(), fleet, RetrainRequest("digits"), print, lambda _wf, _at: None
    )

    (body,) = replay.posted("/dagRuns")
    assert body["conf"] == {}
    assert body["logical_date"] is not None  # "now", as the UI's Trigger form sends
    assert run.month == "2026-11"  # the recorded run's data interval starts 2026-11-01
    assert run.run_id.startswith("cli__interval__")


def test_a_paused_dag_is_refused_with_the_fix_and_nothing_is_triggered(fleet: Fleet) -> None:
    replay = Replay("released")  # recorded while the DAG was still paused

    with pytest.raises(PlatformError, match=r"retrain__digits is paused.*--unpause"):
        trigger.trigger(replay.client(), fleet, RetrainRequest("digits", "2026-02"), say=print)
    assert replay.posted("/dagRuns") == []


def test_unpause_says_so_then_triggers_the_month(fleet: Fleet) -> None:
    replay = Replay("released")
    said: list[str] = []
    run = trigger.trigger(
        replay.client(), fleet, RetrainRequest("digits", "2026-02", unpause=True), said.append
    )

    assert replay.posted("/dags/retrain__digits") == [{"is_paused": False}]
    assert said == ["unpaused retrain__digits: its @monthly schedule runs from now on too"]
    (body,) = replay.posted("/dagRuns")
    assert body["conf"] == {"month": "2026-02"} and body["dag_run_id"] == run.run_id
    assert run.url == f"http://airflow/dags/retrain__digits/runs/{run.run_id}"


def test_a_dag_airflow_lacks_names_the_workflows_it_knows(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigger, "DAG_WAIT_S", 0)
    replay = Replay(
        "released",
        {
            ("GET", "/api/v2/dags/retrain__digits"): (404, {"detail": "not found"}),
            ("GET", "/api/v2/dags"): (
                200,
                {"dags": [{"dag_id": "retrain__welds"}, {"dag_id": "reclassify__welds"}]},
            ),
        },
    )

    with pytest.raises(
        PlatformError, match=r"no DAG retrain__digits; the workflows it knows: welds \("
    ):
        trigger.trigger(replay.client(), fleet, RetrainRequest("digits"), say=print)


def test_airflow_not_answering_says_how_to_start_it(fleet: Fleet) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = AirflowClient("http://airflow", "admin", "pw", httpx.MockTransport(down))
    with pytest.raises(
        PlatformError, match=r"Airflow does not answer at http://airflow.*modelfleet up"
    ):
        trigger.trigger(client, fleet, RetrainRequest("digits"), say=print)


def test_an_unknown_workflow_or_a_bad_month_fails_before_any_request(fleet: Fleet) -> None:
    replay = Replay("released")
    with pytest.raises(ConfigError, match=r"unknown workflow 'digts'; the fleet has .*digits"):
        trigger.trigger(replay.client(), fleet, RetrainRequest("digts"), say=print)
    with pytest.raises(ConfigError, match="month '2026-13' is not YYYY-MM"):
        trigger.trigger(replay.client(), fleet, RetrainRequest("digits", "2026-13"), say=print)
    assert replay.sent == []


def test_waiting_past_the_timeout_exits_1_and_leaves_the_run_going(fleet: Fleet) -> None:
    replay = Replay("released")
    client = replay.client()
    run = trigger.trigger(client, fleet, RetrainRequest("digits", "2026-02", unpause=True), print)

    result = trigger.follow(client, run, timeout_s=0, progress=lambda *_: None, poll_s=0)

    assert (result.outcome, result.exit_code) == (trigger.TIMED_OUT, 1)
    assert "did not finish within 0s" in result.reason[0]


@pytest.mark.parametrize(
    ("run_outcome", "code"),
    [
        (outcomes.PROMOTED, 0),
        (outcomes.NOT_MOVED, 0),
        (outcomes.GATE_REJECTED, 3),
        (outcomes.NO_DATA, 4),
        (outcomes.VALIDATION_STOPPED, 1),
        (outcomes.ROLLED_BACK, 1),
        (outcomes.NOT_STARTED, 1),
        ("failed at train", 1),
    ],
)
def test_exit_codes(run_outcome: str, code: int) -> None:
    assert outcomes.exit_code(run_outcome) == code


def test_the_cli_checks_the_month_and_takes_the_options() -> None:
    argv = ["digits", "--month", "2026-03", "--wait", "--timeout", "5", "--unpause"]
    args = releases.retrain.make_context("retrain", argv).params
    assert args == {
        "workflow": "digits",
        "month": "2026-03",
        "wait": True,
        "timeout": 5.0,
        "unpause": True,
    }
    with pytest.raises(SystemExit) as exit_:  # a usage error, exit 2 as with argparse
        main(["retrain", "digits", "--month", "March"])
    assert exit_.value.code == 2
