"""The Models UI inside the real Airflow api-server: the plugin loads, every route
answers only signed-in users with the right role, and a person in headless Chromium
signs in, finds the production version, opens a workflow and a lineage, and rolls
production back through the UI.

Needs Debian's `chromium` at /usr/bin/chromium (`.ci/run` installs it); nothing is
installed at run time. Screenshots go to `$MODELFLEET_TEST_ARTIFACTS/ui` (default
`var/test-artifacts/ui` in the checkout).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml
from sqlalchemy.orm import Session

from modelfleet.host.ports import free_port
from modelfleet.registry.store import versions
from modelfleet.settings import CHECKOUT
from tests.integration.conftest import BIN, release_digits

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
WORKFLOW = "digits"
ARTIFACTS = (
    Path(os.environ.get("MODELFLEET_TEST_ARTIFACTS", CHECKOUT / "var" / "test-artifacts")) / "ui"
)
USERS = {"admin": "admin", "viewer": "viewer"}  # user -> SimpleAuthManager role


@dataclass
class AirflowUI:
    url: str
    passwords: dict[str, str]
    log: Path

    def token(self, user: str) -> str:
        response = httpx.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": self.passwords[user]},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()["access_token"]

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {} if user is None else {"Authorization": f"Bearer {self.token(user)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def production(platform) -> str | None:
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as session:
        found = versions.resolve_alias(session, WORKFLOW)
    return None if found is None else found.version


def all_versions(platform) -> list[str]:
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as session:
        return [v.version for v in versions.list_versions(session, WORKFLOW)]


@pytest.fixture(scope="module")
def released(platform):
    """digits with at least two versions (earlier modules of the session may have made them)."""
    release_digits(platform, 2)
    assert production(platform) is not None
    return platform


@pytest.fixture(scope="module")
def airflow_ui(released, monkeypatch_module) -> Iterator[AirflowUI]:
    """Airflow's api-server as `modelfleet up` configures it (plugins folder included),
    with an admin and a viewer, on a free port, over the session's metadata database."""
    from modelfleet.orchestration.airflow_env import airflow_env
    from modelfleet.settings import get_settings

    port = free_port()
    monkeypatch_module.setenv("MODELFLEET_AIRFLOW_PORT", str(port))
    settings = get_settings()
    env = {**os.environ, **airflow_env(settings, released.database_url)}
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(CHECKOUT / "plugins")
    passwords = {user: f"{user}-pw-{port}" for user in USERS}
    password_file = settings.airflow_home / "ui-test-passwords.json"
    password_file.write_text(json.dumps(passwords))
    env.update(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": released.airflow_url,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role}" for user, role in USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        }
    )
    log = settings.home / "airflow-api-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "airflow"), "api-server", "--port", str(port), "--workers", "1"],
            env=env,
            cwd=CHECKOUT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ui = AirflowUI(f"http://127.0.0.1:{port}", passwords, log)
    try:
        _wait_for(f"{ui.url}/api/v2/monitor/health", proc, log)
        yield ui
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"api-server exited {proc.returncode}: {log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise RuntimeError(f"api-server not up after {timeout_s}s: {log.read_text()[-4000:]}")


def every_route() -> list[tuple[str, str]]:
    """Each route of the app Airflow mounts, with its parameters filled in."""
    from fastapi.routing import APIRoute

    from modelfleet.naming import MODELS_UI_MOUNT
    from modelfleet.ui import create_app

    values = {"workflow": WORKFLOW, "ref": f"{WORKFLOW}@v1.0.0", "dag_id": "retrain__digits"}
    routes = []
    for route in create_app().routes:
        if isinstance(route, APIRoute):
            path = re.sub(r"\{(\w+)(:path)?\}", lambda m: values.get(m.group(1), "x"), route.path)
            routes.extend((method, f"{MODELS_UI_MOUNT}{path}") for method in sorted(route.methods))
    return routes


@pytest.mark.parametrize(
    ("role", "read", "release"),
    [("viewer", True, False), ("user", True, True), ("op", True, True), ("admin", True, True)],
)
def test_simple_auth_manager_roles(platform, role, read, release):
    """Viewers read; whoever may trigger the DAG may move its versions. (`platform` first:
    Airflow must be configured before it is imported.)"""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi import HTTPException

    from modelfleet.ui.access import AirflowAccess, require_release

    access = AirflowAccess(SimpleAuthManagerUser(username=role, role=role), SimpleAuthManager())
    assert access.user == role
    assert access.can_read(WORKFLOW) is read
    assert access.can_release(WORKFLOW) is release
    if not release:
        with pytest.raises(HTTPException, match="run the DAG retrain__digits"):
            require_release(access, WORKFLOW)


def test_airflow_lists_the_plugin_with_its_views(airflow_ui):
    with airflow_ui.client("admin") as client:
        plugins = client.get("/api/v2/plugins").json()["plugins"]
    plugin = next(p for p in plugins if p["name"] == "modelfleet_models")
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/models"
    views = {v["url_route"]: v for v in plugin["external_views"]}
    assert views["models"]["destination"] == "nav" and views["models"]["name"] == "Models"
    assert views["model"]["destination"] == "dag"
    assert views["model-version"]["destination"] == "dag_run"


def test_anonymous_requests_are_refused_on_every_route(airflow_ui):
    routes = every_route()
    assert len(routes) >= 15
    with airflow_ui.client() as client:
        for method, path in routes:
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code in (401, 403), (method, path, response.status_code)
        forged = client.get("/models/api/fleet", headers={"Authorization": "Bearer not-a-jwt"})
        assert forged.status_code in (401, 403)
        assert client.get("/models/api/fleet", cookies={"_token": "forged"}).status_code in (
            401,
            403,
        )


def test_a_viewer_reads_but_may_not_move_versions(airflow_ui, released):
    with airflow_ui.client("viewer") as client:
        fleet = client.get("/models/api/fleet")
        assert fleet.status_code == 200
        assert {r["workflow"]: r["production"] for r in fleet.json()}[WORKFLOW] == production(
            released
        )
        before = production(released)
        refused = client.post(
            f"/models/api/workflows/{WORKFLOW}/rollback", json={"reason": "I am only a viewer"}
        )
        assert refused.status_code == 403, refused.text
        pin = client.post(
            f"/models/api/workflows/{WORKFLOW}/pin",
            json={"application": "modelfleet-ingest", "pin": "production", "reason": "no"},
        )
        assert pin.status_code == 403
    assert production(released) == before


def test_a_version_plot_and_its_data_docs_are_served(airflow_ui, released):
    with airflow_ui.client("admin") as client:
        found = client.get(f"/models/api/workflows/{WORKFLOW}").json()
        version = found["versions"][-1]
        plot = client.get(version["urls"]["confusion"])
        assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
        assert client.get(version["urls"]["curves"]).content.startswith(b"\x89PNG")
        docs = client.get(version["urls"]["data_docs"])
        assert docs.status_code == 200 and "html" in docs.headers["content-type"]
        run = client.get(f"/models/api/dag-runs/retrain__{WORKFLOW}/{version['run_id']}")
        produced = run.json()["version"]
        assert (
            next(v for v in found["versions"] if v["version"] == produced)["run_id"]
            == (version["run_id"])
        )


def test_a_person_rolls_back_production_through_the_airflow_ui(airflow_ui, released):
    """Sign in, open Models, check the fleet, a workflow and a lineage, roll back."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    before = production(released)
    target = max((v for v in all_versions(released) if v != before), key=_semver)
    with airflow_ui.client("admin") as client:
        fleet = client.get("/models/api/fleet").json()
        found = client.get(f"/models/api/workflows/{WORKFLOW}").json()
    never_ran = next(r["workflow"] for r in fleet if r["never_ran"])
    scores = sorted(v for _, values in found["trend"] for v in values.values() if v is not None)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(30_000)
        try:
            page.goto(f"{airflow_ui.url}/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", airflow_ui.passwords["admin"])
            page.click("button[type=submit]")

            # 1. the Models entry of Airflow's navigation
            page.get_by_role("link", name="Models").click()
            page.wait_for_url(re.compile(r"/plugin/models"))
            models = page.frame_locator("iframe[title=Models]")

            # 2. the fleet table shows the production version Postgres holds
            row = models.locator(f"#fleet tr[data-workflow={WORKFLOW}]")
            expect(row.locator("td.production")).to_have_text(before)
            # a workflow that never ran says how to start it: its DAG, or the CLI
            idle = models.locator(f"#fleet tr[data-workflow={never_ran}] .never-ran")
            expect(idle).to_be_visible()
            expect(idle).to_contain_text(f"modelfleet retrain {never_ran}")
            expect(idle.locator("a")).to_have_attribute("href", f"/dags/retrain__{never_ran}")
            page.screenshot(path=ARTIFACTS / "1-fleet.png", full_page=True)

            # 3. a workflow page and a lineage page
            row.locator("a.workflow").click()
            expect(models.locator("#production")).to_have_text(before)
            expect(models.locator(f"#versions tr[data-version='{target}']")).to_be_visible()
            expect(models.locator("svg.trend")).to_be_visible()
            # the trend's y-axis spans the scores shown, not 0..1
            low, high = (
                float(models.locator("svg.trend").get_attribute(f"data-y-{end}") or "nan")
                for end in ("min", "max")
            )
            assert low <= scores[0] and high >= scores[-1], (low, high, scores)
            assert high - low <= max(1.5 * (scores[-1] - scores[0]), 0.02) + 1e-9
            expect(models.locator("#selected")).to_have_text(f"{WORKFLOW}@{before}")
            for plot in ("confusion matrix", "training curves"):
                loaded(models.locator(f"img[alt^='{plot}']"))
            # validation curves beside the training curves: the dashed orange lines
            curves = models.locator("img[alt^='training curves']")
            expect(curves).to_have_attribute("alt", re.compile("with validation"))
            with airflow_ui.client("admin") as client:
                png = client.get(curves.get_attribute("src") or "").content
            assert orange_pixels(png) > 100, "no validation curve in the training curves"
            page.screenshot(path=ARTIFACTS / "2-workflow.png", full_page=True)
            models.locator(f"#versions tr[data-version='{before}'] a", has_text="lineage").click()
            graph = models.locator("svg.lineage")
            for node in ("model_version", "training_run", "dataset_version", "validation"):
                expect(graph.locator(f"[data-node={node}]")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "3-lineage.png", full_page=True)

            # 4. roll back through the UI, with a reason
            models.locator(f"a[href$='/workflows/{WORKFLOW}']").first.click()
            form = models.locator("form#rollback")
            form.locator("select[name=to]").select_option(value=target)
            form.locator("input[name=reason]").fill("scratches missed on line 2 (UI test)")
            form.locator("button").click()
            expect(models.locator(".done")).to_contain_text(f"to {target}")
            expect(models.locator("#production")).to_have_text(target)
            page.screenshot(path=ARTIFACTS / "4-rolled-back.png", full_page=True)

            # the per-DAG tab leads to the workflow's page
            page.goto(f"{airflow_ui.url}/dags/retrain__{WORKFLOW}/plugin/model")
            expect(page.frame_locator("iframe[title=Model]").locator("#production")).to_have_text(
                target
            )
            page.screenshot(path=ARTIFACTS / "5-dag-tab.png", full_page=True)

            # the per-run tab leads to the lineage of the version the run produced
            run_id = quote(version_run(released, before), safe="")
            page.goto(
                f"{airflow_ui.url}/dags/retrain__{WORKFLOW}/runs/{run_id}/plugin/model-version"
            )
            lineage = page.frame_locator("iframe[title='Model version']")
            expect(lineage.locator("h1")).to_have_text(f"Lineage of {WORKFLOW}@{before}")
            page.screenshot(path=ARTIFACTS / "6-dag-run-tab.png", full_page=True)
        except Exception:
            page.screenshot(path=ARTIFACTS / "failure.png", full_page=True)
            raise
        finally:
            browser.close()

    # 5. the alias moved, and the history says who and why
    assert production(released) == target
    from modelfleet.registry import db

    with Session(db.engine(released.database_url)) as session:
        last = versions.alias_history(session, WORKFLOW)[-1]
    assert (last.from_version, last.to_version) == (before, target)
    assert last.actor == "airflow:admin"
    assert last.reason == "rollback: scratches missed on line 2 (UI test)"


def version_run(platform, version: str) -> str:
    from modelfleet.registry import db

    with Session(db.engine(platform.database_url)) as session:
        run_id = versions.get_version(session, WORKFLOW, version).run_id
    assert run_id is not None
    return run_id


def loaded(image, timeout_s: float = 20) -> None:
    """Wait until an <img> has decoded (a screenshot must not catch it half-loaded)."""
    deadline = time.monotonic() + timeout_s
    while not image.evaluate("img => img.complete && img.naturalWidth > 0"):
        assert time.monotonic() < deadline, "image did not load"
        time.sleep(0.2)


def orange_pixels(png: bytes) -> int:
    """Pixels of matplotlib's tab:orange, the colour of the validation curves."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(rgb - np.array([255, 127, 14])).sum(axis=2) < 40).sum())


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version[1:].split("."))


APPROVAL_WORKFLOW = "caps_sorter"  # released by no other test of this module


def test_a_person_sees_proposed_months_and_approves_a_release_in_the_ui(
    airflow_ui, released, monkeypatch
):
    """The trigger form offers the months with data; a run whose workflow asks for
    approval waits at `approve` until a person answers in Airflow's UI (Required
    Actions), with a reason, and then releases in that person's name."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import expect, sync_playwright

    from tests.integration.conftest import write_fleet
    from tests.integration.test_retrain_dag import run_dag
    from tests.integration.test_retrain_releases import OPEN_GATE
    from tests.integration.test_retrain_releases_approvals import answering

    fleet = write_fleet(released.home / "ui-approval.yaml", gate=OPEN_GATE, epochs=1)
    doc = yaml.safe_load(fleet.read_text())
    doc["workflows"][APPROVAL_WORKFLOW]["release"] = {"approval": "required"}
    fleet.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("MODELFLEET_CONFIG", str(fleet))
    # The run checks the responder with the same users as the api-server.
    monkeypatch.setenv(
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        ",".join(f"{user}:{role}" for user, role in USERS.items()),
    )
    dag_id = f"retrain__{APPROVAL_WORKFLOW}"
    reason = "checked twenty caps by hand (UI test)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def person() -> None:
        run_id = parked(dag_id)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(30_000)
            try:
                sign_in(page, airflow_ui, "admin")
                # the trigger form's month proposes the months with data
                page.goto(f"{airflow_ui.url}/dags/retrain__{WORKFLOW}")
                page.get_by_role("button", name=re.compile("^Trigger")).first.click()
                month = page.locator("input#element_month")
                expect(month).to_have_attribute("list", "list_month")
                offered = page.locator("datalist#list_month option").evaluate_all(
                    "options => options.map(o => o.value)"
                )
                assert "2026-01" in offered, offered
                page.screenshot(path=ARTIFACTS / "7-trigger-months.png", full_page=True)
                page.keyboard.press("Escape")

                # the approval, answered in the task's Required Actions tab
                page.goto(
                    f"{airflow_ui.url}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
                    "/tasks/approve/required_actions"
                )
                expect(
                    page.get_by_text(f"Release {APPROVAL_WORKFLOW} trained on 2026-01?").first
                ).to_be_visible()
                page.locator("#element_reason").fill(reason)
                page.screenshot(path=ARTIFACTS / "8-approval.png", full_page=True)
                page.get_by_role("button", name="Approve").click()
                expect(page.get_by_text("response successful", exact=False)).to_be_visible()
            except Exception:
                page.screenshot(path=ARTIFACTS / "approval-failure.png", full_page=True)
                reject(dag_id, run_id)  # the run must not wait a day for an answer
                raise
            finally:
                browser.close()

    with answering(person):
        state, tasks = run_dag("2026-01", dag_id=dag_id)
    assert state == "success", tasks
    assert tasks["approve"] == tasks["register"] == tasks["deploy"] == "success"
    from modelfleet.registry import db

    with Session(db.engine(released.database_url)) as session:
        last = versions.alias_history(session, APPROVAL_WORKFLOW)[-1]
    assert last.actor == "airflow:admin"
    assert last.reason == f"approved by airflow:admin: {reason}"


def sign_in(page, airflow_ui: AirflowUI, user: str) -> None:
    page.goto(f"{airflow_ui.url}/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", airflow_ui.passwords[user])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*login)"))


def parked(dag_id: str, timeout_s: float = 900) -> str:
    """The run id of `dag_id`'s run whose `approve` step waits for a person."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with create_session() as session:
            run_id = session.scalars(
                select(TaskInstance.run_id).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.task_id == "approve",
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                )
            ).first()
        if run_id is not None:
            return run_id
        time.sleep(0.5)
    raise TimeoutError(f"the approve step of {dag_id} never waited for input")


def reject(dag_id: str, run_id: str) -> None:
    """Answer the parked step with Reject through Airflow's own handler (as admin)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.utils.session import create_session

    with create_session() as session:
        update_hitl_detail(
            dag_id=dag_id,
            dag_run_id=run_id,
            task_id="approve",
            update_hitl_detail_payload=UpdateHITLDetailPayload(
                chosen_options=["Reject"], params_input={"reason": "the UI test failed"}
            ),
            user=SimpleAuthManagerUser(username="admin", role="admin"),
            session=session,
        )
