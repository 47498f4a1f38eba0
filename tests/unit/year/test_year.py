"""The year's plan, run outcomes, load summary and report, without a platform.

The year itself runs through the real scheduler (`make year`); its report is the
integration evidence. Here the pieces that decide what the report says.
"""

from __future__ import annotations

import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modelfleet.config import load_fleet
from modelfleet.errors import ConfigError, PlatformError
from modelfleet.harness.year import runs
from modelfleet.harness.year.load import Answer, LoadGenerator, LoadSummary
from modelfleet.harness.year.report import Facts, RunRecord, render
from modelfleet.harness.year.runs import YearRun, outcome
from modelfleet.harness.year.simulate import fleet_months, plan_from
from modelfleet.harness.year.verify import Restored, Verification
from modelfleet.versioning.reproduce import Reproduction

ALL_OK = dict.fromkeys(
    ("snapshot", "validate", "train", "evaluate", "gate", "register", "deploy", "smoke"),
    "success",
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, runs.PROMOTED),
        ({"snapshot": "skipped", "validate": "skipped"}, runs.NO_DATA),
        ({"validate": "failed", "train": "upstream_failed"}, runs.VALIDATION_STOPPED),
        ({"register": "skipped", "deploy": "skipped", "smoke": "skipped"}, runs.GATE_REJECTED),
        ({"smoke": "failed"}, runs.ROLLED_BACK),
        ({"smoke": "skipped"}, runs.NOT_MOVED),
        (
            {"train": "failed", **dict.fromkeys(("evaluate", "gate"), "upstream_failed")}
            | dict.fromkeys(("register", "deploy", "smoke"), "upstream_failed"),
            "failed at train",
        ),
    ],
)
def test_outcome_of_a_finished_run(changes, expected):
    assert outcome({**ALL_OK, **changes}, "success") == expected


def test_a_run_marked_failed_before_it_started_is_not_a_month_without_data():
    """Marking a queued run failed leaves its tasks skipped or unset, as no data would."""
    cut = dict.fromkeys(ALL_OK, "skipped") | {"smoke": None}
    assert outcome(cut, "failed") == runs.NOT_STARTED
    assert outcome(dict.fromkeys(ALL_OK, "skipped"), "success") == runs.NO_DATA


def test_the_fleet_year_spans_every_month_a_source_holds(fleet_file):
    fleet = load_fleet(fleet_file)
    months = fleet_months(fleet)
    assert months[0] == "2026-01" and len(months) == 12
    plan = plan_from(fleet, None, None)
    assert len(plan.workflows) == 20 and plan.months == months


def test_plan_selects_workflows_and_months(fleet_file):
    fleet = load_fleet(fleet_file)
    plan = plan_from(fleet, "digits, surface_line1", "2026-03:2026-05")
    assert plan.workflows == ["digits", "surface_line1"]
    assert plan.months == ["2026-03", "2026-04", "2026-05"]
    assert plan_from(fleet, None, "2").months == ["2026-01", "2026-02"]
    with pytest.raises(ConfigError, match="unknown workflows"):
        plan_from(fleet, "nope", None)
    with pytest.raises(ConfigError, match="selects none"):
        plan_from(fleet, None, "2030-01:2030-02")


def test_year_runs_are_named_by_month():
    assert YearRun("digits", "retrain__digits", "2026-04").run_id == "year__2026-04"


def test_load_summary_counts_every_non_200_as_failed():
    answers = [Answer(0.0, "a", 200, 0.010, "1000000")] * 98 + [
        Answer(1.0, "a", 200, 0.020, "1001000"),
        Answer(2.0, "b", 503, 0.500, None, "loading"),
    ]
    summary = LoadSummary.of(answers)
    assert summary.requests == 100 and summary.failed == 1
    assert summary.versions_seen == {"a": ["1000000", "1001000"]}
    assert summary.failures == ["b: 503 loading"]
    assert summary.p50_ms == pytest.approx(10.0)


def test_load_generator_queries_only_ready_workflows_and_records_answers():
    """A real HTTP server stands in for the endpoint: only `ready` is ever served."""
    seen: list[str] = []

    class Endpoint(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # readiness
            self.send_response(200 if "/models/ready/" in self.path else 404)
            self.end_headers()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            self.send_response(200)
            self.send_header("X-Model-Version", "1000000")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        load = LoadGenerator(
            f"http://127.0.0.1:{server.server_port}",
            "key",
            ["ready", "never"],
            clients=1,
            rate_per_client=50,
        )
        load.start()
        threading.Event().wait(1.5)
        summary = load.stop()
    finally:
        server.shutdown()
    assert summary.requests > 5 and summary.failed == 0
    assert set(seen) == {"/v1/models/ready:classify"}


def _record(workflow: str, month: str, result: str, fit: float | None) -> RunRecord:
    durations = {"snapshot": 3.0, "validate": 5.0, "train": 10.0 + (fit or 0.0)}
    return RunRecord(
        run=YearRun(workflow, f"retrain__{workflow}", month),
        outcome=result,
        states={**ALL_OK, **({} if result == runs.PROMOTED else {"register": "skipped"})},
        durations=durations,
        queued_s=1.0,
        wall_s=30.0,
        fit_s=fit,
    )


def test_report_states_the_headline_figures():
    records = [
        _record("digits", "2026-01", runs.PROMOTED, 4.0),
        _record("digits", "2026-02", runs.GATE_REJECTED, 6.0),
        _record("digits", "2026-07", runs.NO_DATA, None),
    ]
    verification = Verification(
        workflows_compared=1,
        disagreements=[],
        restored=[Restored("digits@v1.0.0", "ab", "ab")],
        reproduction=Reproduction("digits@v1.0.0", "ab", "ab"),
    )
    text = render(
        command="modelfleet simulate-year --only digits",
        records=records,
        wall_s=600,
        load=LoadSummary.of([Answer(0.0, "digits", 200, 0.02, "1000000")]),
        verification=verification,
        promotions_under_load=1,
        facts=Facts({"digits": "v1.0.0"}, {"model_version": 1}, [("DVC cache", 3, 2**20)]),
    )
    assert "10.0 min for the whole year" in text
    assert "1 registered, 1 promoted" in text
    # overhead = task time minus fit: 3 + 5 + 10 for both runs that trained
    assert "median 18.0 s" in text
    assert "**0 failed**" in text
    assert "| digits | 3 | 1 | 1 | 1 | 0 | 1 | 0 | v1.0.0 |" in text
    assert "GTO vs Postgres agree" in text and "1/1 sampled" in text
    assert "reproduction of digits@v1.0.0 bit for bit" in text
    assert "| DVC cache | 3 | 1.0 MiB |" in text


class RecordingAirflow:
    """Stands in for Airflow's REST API (the boundary); `taken` run ids answer 409."""

    def __init__(self, taken: set[str] = frozenset()) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self.taken = taken

    def call(self, method: str, path: str, **kwargs: object) -> None:
        self.calls.append((method, path, kwargs.get("json")))
        if method == "POST" and kwargs["json"]["dag_run_id"] in self.taken:
            raise PlatformError(f"Airflow POST {path} -> 409: exists")


def test_a_partial_year_holds_the_catch_up_interval(monkeypatch):
    from modelfleet.harness.year import runs as module

    monkeypatch.setattr(module, "datetime", _Frozen)  # "now" is 2026-11-28
    client = RecordingAirflow(taken={"year__hold__2026-10"})
    held = runs.hold_catch_up(client, ["retrain__a"], ["2026-01", "2026-02"])
    assert held == "2026-10"
    assert [c[0] for c in client.calls] == ["POST"]  # taken: nothing to mark
    client = RecordingAirflow()
    runs.hold_catch_up(client, ["retrain__a"], ["2026-01"])
    (post, patch) = client.calls
    assert post[2]["logical_date"] == "2026-10-01T00:00:00Z"
    assert post[2]["data_interval_end"] == "2026-11-01T00:00:00Z"
    assert patch[0] == "PATCH" and patch[2]["state"] == "failed"
    assert runs.hold_catch_up(RecordingAirflow(), ["retrain__a"], ["2026-09", "2026-10"]) is None


class _Frozen(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        return datetime(2026, 11, 28, 12, tzinfo=tz)


def test_a_year_stopped_by_its_timeout_says_how_much_of_it_finished():
    records = [_record("digits", "2026-01", runs.PROMOTED, 4.0)]
    verification = Verification(1, [], [], None)
    text = render(
        command="modelfleet simulate-year --timeout-min 1",
        records=records,
        wall_s=60,
        load=LoadSummary.of([]),
        verification=verification,
        promotions_under_load=0,
        facts=Facts({}, {}, []),
        planned=240,
    )
    assert "**1 of 240 runs finished**" in text
    assert "for the whole year" not in text
    assert "= 1 `retrain__<wf>` runs (240 planned)" in text


def test_runs_that_never_started_count_as_planned_only():
    records = [
        _record("digits", "2026-01", runs.PROMOTED, 4.0),
        _record("digits", "2026-02", runs.NOT_STARTED, None),
    ]
    text = render(
        command="modelfleet simulate-year",
        records=records,
        wall_s=60,
        load=LoadSummary.of([]),
        verification=Verification(1, [], [], None),
        promotions_under_load=0,
        facts=Facts({}, {}, []),
    )
    assert "**1 of 2 runs finished**" in text
    assert "| digits | 1 | 1 | 1 | 0 | 0 | 0 | 0 |" in text
    assert f"1 {runs.NOT_STARTED}" not in text  # not an outcome in the tables


def test_a_month_dated_in_the_future_gets_a_run_without_a_logical_date(monkeypatch):
    """Airflow's scheduler holds a run dated ahead of now (RunnableExecDateDep) until that
    date, so the year would wait for it; such a month runs at once on its conf."""
    from modelfleet.harness.year import runs as module

    monkeypatch.setattr(module, "datetime", _Frozen)  # "now" is 2026-11-28
    client = RecordingAirflow()
    runs.create_runs(client, [runs.YearRun("a", "retrain__a", m) for m in ("2026-11", "2026-12")])
    november, december = (call[2] for call in client.calls)
    assert november["logical_date"] == "2026-11-01T00:00:00Z"
    assert november["data_interval_end"] == "2026-12-01T00:00:00Z"
    assert november["conf"] == {"month": "2026-11"}
    assert december["logical_date"] is None and "data_interval_start" not in december
    assert december["conf"] == {"month": "2026-12"}
