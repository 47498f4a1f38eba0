"""The gate's comparison lines in the main group of its task log, in Airflow's own UI.

`dag.test()` writes no task log files, so this reads a run the platform's scheduler
executed (this package's platform, conftest.py): a month of digits gated against a
version in production, so its log holds the absolute checks and the comparisons (vs
production, holdout). Its own `modelfleet retrain --wait` runs make it: the month
before only when no earlier test of the session released one, then MONTH (one epoch,
about a minute each; the conftest's lenient gate passes them). The log is read twice:
through the REST API (its structured records, ordered against the `::group::Post
Execute` marker) and in headless Chromium on the task instance's Logs tab, where every
gate line shows without opening a group. Needs Debian's `chromium` at /usr/bin/chromium
(`.ci/run` installs it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from modelfleet.naming import retrain_dag_id
from modelfleet.settings import CHECKOUT
from tests.helpers.running_platform import RunningPlatform

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = (
    Path(os.environ.get("MODELFLEET_TEST_ARTIFACTS", CHECKOUT / "var" / "test-artifacts")) / "ui"
)
WORKFLOW = "digits"
FIRST_MONTH = "2026-02"  # released first: the production MONTH is compared with
MONTH = "2026-03"
DAG_ID = retrain_dag_id(WORKFLOW)
POST_EXECUTE = "::group::Post Execute"
VERDICT = f"gate verdict for {WORKFLOW} {MONTH}"


def _gated_run(platform: RunningPlatform) -> tuple[str, int]:
    """(run id, try number) of a manual run whose gate judged MONTH; LookupError if none."""
    client = platform.airflow()
    for run_id in reversed(client.runs(DAG_ID, run_type="manual")):
        gates = [ti for ti in client.task_instances(DAG_ID, run_id) if ti["task_id"] == "gate"]
        if not gates or gates[0]["state"] != "success":
            continue
        try_number = gates[0]["try_number"]
        if any(VERDICT in line for line in client.task_log(DAG_ID, run_id, "gate", try_number)):
            return run_id, try_number
    raise LookupError


def _retrain(month: str) -> None:
    done = subprocess.run(
        [str(BIN / "modelfleet"), "retrain", WORKFLOW, "--month", month, "--unpause", "--wait"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _in_production(platform: RunningPlatform) -> bool:
    from modelfleet.registry import db
    from modelfleet.registry.store import versions

    # This platform's database by URL (db.engine() alone is cached per process).
    with Session(db.engine(platform.database_url)) as session:
        return versions.resolve_alias(session, WORKFLOW) is not None


@pytest.fixture(scope="module")
def gated(platform: RunningPlatform) -> tuple[str, int]:
    """A run the scheduler executed whose gate judged MONTH against a production version
    (so the comparisons are logged): reused if the session has one, else triggered here,
    after a release of FIRST_MONTH if nothing is in production yet (test_retrain_cli.py
    releases it when it runs first)."""
    platform.airflow().wait_for_dag(DAG_ID)
    try:
        return _gated_run(platform)
    except LookupError:
        pass
    if not _in_production(platform):
        _retrain(FIRST_MONTH)
    _retrain(MONTH)
    return _gated_run(platform)


def _events(platform: RunningPlatform, run_id: str, try_number: int) -> list[str]:
    """The structured log's records as their `event` texts, in order (REST API, JWT)."""
    client = platform.airflow()
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/gate/logs/{try_number}"
    content: list[Any] = client.call(
        "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
    ).json()["content"]
    return [str(r.get("event", "")) if isinstance(r, dict) else str(r) for r in content]


def test_the_gate_log_names_every_check_before_post_execute(platform, gated) -> None:
    run_id, try_number = gated
    events = _events(platform, run_id, try_number)

    assert POST_EXECUTE in events, events
    main = events[: events.index(POST_EXECUTE)]
    checks = [e for e in main if re.match(r"gate (PASS|FAIL) \w+ \(", e)]
    verdicts = [e for e in main if e.startswith(VERDICT)]
    assert verdicts, "\n".join(events)
    opening = [e for e in main if e.startswith(f"gate of {WORKFLOW} for {MONTH}")]
    assert opening and "comparisons with production and its holdout" in opening[0], main
    # every check names its kind, value and threshold; the verdict counts them
    assert checks and all("value " in c and "threshold >= " in c for c in checks), checks
    kinds = {re.search(r"\((absolute|vs production|holdout)\)", c).group(1) for c in checks}  # type: ignore[union-attr]
    assert kinds == {"absolute", "vs production", "holdout"}, checks
    assert f"all {len(checks)} checks" in verdicts[0], verdicts  # the lenient gate passes
    # nothing of the gate's lands in the collapsed group after the task returned
    after = events[events.index(POST_EXECUTE) :]
    assert not [e for e in after if e.startswith("gate ")], after


def test_the_gate_lines_show_in_the_airflow_ui_without_opening_a_group(platform, gated) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import expect, sync_playwright

    from modelfleet.orchestration.airflow_env import ADMIN_USER, admin_password
    from modelfleet.settings import get_settings

    settings = get_settings()
    run_id, _ = gated
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.set_default_timeout(30_000)
        try:
            page.goto(f"{settings.airflow_url}/")
            page.fill("input[name=username]", ADMIN_USER)
            page.fill("input[name=password]", admin_password(settings))
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"^(?!.*login)"))

            # the task instance page opens on its Logs tab
            page.goto(f"{settings.airflow_url}/dags/{DAG_ID}/runs/{run_id}/tasks/gate")
            verdict = page.get_by_text(VERDICT).first
            expect(verdict).to_be_visible()
            for kind in ("(absolute)", "(vs production)", "(holdout)", "threshold >= "):
                expect(page.get_by_text(kind).first).to_be_visible()
            post = page.get_by_text("Post Execute").first
            expect(post).to_be_visible()
            page.screenshot(path=ARTIFACTS / "9-gate-log.png", full_page=True)
            # the verdict is above the collapsed group, not inside it
            verdict_box, post_box = verdict.bounding_box(), post.bounding_box()
            assert verdict_box is not None and post_box is not None
            assert verdict_box["y"] < post_box["y"]
        except Exception:
            page.screenshot(path=ARTIFACTS / "9-gate-log-failure.png", full_page=True)
            raise
        finally:
            browser.close()
