"""The Models app's routes over a real Postgres registry: what each page and API
route shows, who may see it, and the pin action (rollback is in the integration
test, which has a real model repository)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from modelfleet.ui import create_app
from tests.unit.ui.conftest import IMAGE, WORKFLOW, as_user, fake_access, fake_dag_runs

pytestmark = pytest.mark.integration  # real Postgres


def concrete(path: str) -> str:
    """A route path with its parameters filled in."""
    values = {"workflow": WORKFLOW, "ref": f"{WORKFLOW}@v1.0.0", "dag_id": "retrain__digits"}
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: values.get(m.group(1), "x"), path)


def every_route() -> list[tuple[str, str]]:
    app = create_app(access=fake_access, dag_runs=fake_dag_runs)
    return [
        (method, concrete(route.path))
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


def test_the_app_serves_no_route_without_the_access_dependency():
    app = create_app(access=fake_access, dag_runs=fake_dag_runs)
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 15
    for route in routes:
        assert fake_access in [d.call for d in route.dependant.dependencies], route.path
    # FastAPI's own /docs and /openapi.json would not carry it
    assert app.openapi_url is None and app.docs_url is None and app.redoc_url is None


@pytest.mark.parametrize(("method", "path"), every_route())
def test_anonymous_callers_get_401_everywhere(client, method, path):
    response = client.request(method, f"/models{path}", follow_redirects=False)
    assert response.status_code == 401, (method, path, response.text[:200])


def test_fleet_shows_production_and_the_last_run(client):
    rows = client.get("/models/api/fleet", headers=as_user("admin")).json()
    digits = next(r for r in rows if r["workflow"] == WORKFLOW)
    assert digits["production"] == "v1.1.0"
    assert digits["test_accuracy"] == pytest.approx(0.94)
    assert digits["last_run"]["state"] == "success"
    assert digits["last_run"]["url"] == "/dags/retrain__digits/runs/manual__2026-03"
    assert digits["gate"]["verdict"] == "passed"
    assert digits["urls"]["production"] == "/models/lineage/digits%40v1.1.0"
    page = client.get("/models/", headers=as_user("admin"))
    assert page.status_code == 200
    assert 'data-workflow="digits"' in page.text and "v1.1.0" in page.text


def test_fleet_says_how_to_start_a_workflow_that_never_ran(client):
    rows = {
        r["workflow"]: r for r in client.get("/models/api/fleet", headers=as_user("admin")).json()
    }
    never = rows["surface_line1"]  # configured, no run, no version, no record
    assert never["never_ran"] and never["retrain_command"] == "modelfleet retrain surface_line1"
    assert not rows[WORKFLOW]["never_ran"]
    page = client.get("/models/", headers=as_user("admin")).text
    row = page[page.index('data-workflow="surface_line1"') :]
    row = row[: row.index("</tr>")]
    assert "never ran" in row and "<code>modelfleet retrain surface_line1</code>" in row
    assert 'href="/dags/retrain__surface_line1"' in row


def test_fleet_lists_only_what_the_user_may_read(client):
    names = {
        r["workflow"] for r in client.get("/models/api/fleet", headers=as_user("viewer")).json()
    }
    assert names == {WORKFLOW}
    assert client.get("/models/api/fleet", headers=as_user("stranger")).json() == []


def test_workflow_has_versions_gate_reasons_history_and_trend(client):
    found = client.get(f"/models/api/workflows/{WORKFLOW}", headers=as_user("viewer")).json()
    assert found["production"] == "v1.1.0"
    assert [v["version"] for v in found["versions"]] == ["v1.0.0", "v1.1.0"]
    latest = found["versions"][-1]
    assert latest["aliases"] == ["production"]
    assert latest["gate"]["checks"][0]["name"] == "min_accuracy"
    assert latest["dataset"]["month"] == "2026-02"
    assert latest["urls"]["data_docs"] == f"/models/data-docs/{WORKFLOW}/index.html"
    assert [(e["from"], e["to"]) for e in found["history"]] == [
        ("v1.0.0", "v1.1.0"),
        (None, "v1.0.0"),
    ]
    assert found["trend"][0][1]["test accuracy"] == pytest.approx(0.91)
    assert found["applications"] == [{"application": "line1-hmi", "pin": "production"}]
    assert found["can_release"] is False  # a viewer

    page = client.get(f"/models/workflows/{WORKFLOW}?version=v1.0.0", headers=as_user("admin"))
    assert page.status_code == 200
    assert '<svg class="trend"' in page.text
    assert 'id="rollback"' in page.text and 'id="pin"' in page.text
    assert "digits@v1.0.0" in page.text  # the selected version's section
    viewer_page = client.get(f"/models/workflows/{WORKFLOW}", headers=as_user("viewer")).text
    assert 'id="rollback"' not in viewer_page and "may not move versions" in viewer_page


def test_text_from_the_url_is_escaped(client):
    page = client.get(
        f"/models/workflows/{WORKFLOW}",
        params={"done": "<script>x</script>"},
        headers=as_user("viewer"),
    )
    assert "<script>x" not in page.text and "&lt;script&gt;x" in page.text


def test_a_workflow_the_user_may_not_read_is_403(client):
    assert (
        client.get(f"/models/api/workflows/{WORKFLOW}", headers=as_user("stranger")).status_code
        == 403
    )
    page = client.get(f"/models/workflows/{WORKFLOW}", headers=as_user("stranger"))
    assert page.status_code == 403 and "Not allowed" in page.text


def test_lineage_of_a_version_and_of_a_prediction(client):
    found = client.get(f"/models/api/lineage/{WORKFLOW}@v1.0.0", headers=as_user("viewer")).json()
    nodes = {n["id"]: n for n in found["graph"]["nodes"]}
    assert set(nodes) >= {
        "model_version",
        "training_run",
        "dataset_version",
        "validation",
        "gate",
        "code",
    }
    assert nodes["training_run"]["href"] == "/dags/retrain__digits/runs/manual__2026-01"
    assert nodes["validation"]["href"] == f"/models/data-docs/{WORKFLOW}/index.html"
    by_image = client.get(f"/models/api/lineage/{IMAGE}", headers=as_user("viewer")).json()
    assert by_image["chain"]["prediction"]["label"] == "7"
    assert by_image["chain"]["model_version"]["version"] == "v1.1.0"
    page = client.get(f"/models/lineage/{IMAGE}", headers=as_user("viewer"))
    assert page.status_code == 200 and '<svg class="lineage"' in page.text
    assert client.get("/models/api/lineage/nonsense", headers=as_user("viewer")).status_code == 404
    assert client.get(f"/models/lineage/{IMAGE}", headers=as_user("stranger")).status_code == 403


def test_dag_and_dag_run_links_lead_to_the_workflow_and_the_version(client):
    tab = client.get(
        "/models/dag/retrain__digits", headers=as_user("viewer"), follow_redirects=False
    )
    assert tab.status_code == 303 and tab.headers["location"] == f"/models/workflows/{WORKFLOW}"
    run = client.get(
        "/models/dag-run/retrain__digits/manual__2026-02",
        headers=as_user("viewer"),
        follow_redirects=False,
    )
    assert run.status_code == 303 and run.headers["location"] == "/models/lineage/digits%40v1.1.0"
    none = client.get("/models/dag-run/retrain__digits/manual__2099-01", headers=as_user("viewer"))
    assert none.status_code == 200 and "registered no model version" in none.text
    assert client.get("/models/dag/some_other_dag", headers=as_user("viewer")).status_code == 404


def test_data_docs_are_served_but_nothing_outside_them(client):
    ok = client.get(f"/models/data-docs/{WORKFLOW}/index.html", headers=as_user("viewer"))
    assert ok.status_code == 200 and "Data Docs" in ok.text
    for sneaky in (f"{WORKFLOW}/../../secret.txt", f"{WORKFLOW}/%2e%2e/%2e%2e/secret.txt"):
        assert (
            client.get(f"/models/data-docs/{sneaky}", headers=as_user("viewer")).status_code == 404
        )
    assert (
        client.get(
            f"/models/data-docs/{WORKFLOW}/index.html", headers=as_user("stranger")
        ).status_code
        == 403
    )


def test_a_viewer_may_not_roll_back_or_pin(client):
    for path, body in (
        ("rollback", {"reason": "no"}),
        ("pin", {"application": "line1-hmi", "pin": "v1.0.0", "reason": "no"}),
    ):
        response = client.post(
            f"/models/api/workflows/{WORKFLOW}/{path}", json=body, headers=as_user("viewer")
        )
        assert response.status_code == 403, response.text
        assert "may not move versions" in response.json()["detail"]


def test_actions_need_a_reason_and_refuse_other_origins(client):
    no_reason = client.post(
        f"/models/api/workflows/{WORKFLOW}/pin",
        json={"application": "line1-hmi", "pin": "v1.0.0", "reason": "  "},
        headers=as_user("admin"),
    )
    assert no_reason.status_code == 409 and "reason" in no_reason.json()["detail"]
    forged = client.post(
        f"/models/workflows/{WORKFLOW}/rollback",
        data={"reason": "csrf"},
        headers={**as_user("admin"), "Origin": "https://evil.example"},
    )
    assert forged.status_code == 403


def test_pin_moves_an_application_and_never_grants_a_new_workflow(client):
    form = client.post(
        f"/models/workflows/{WORKFLOW}/pin",
        data={"application": "line1-hmi", "pin": "v1.0.0", "reason": "QA ticket 7"},
        headers={**as_user("admin"), "Origin": "http://airflow.test"},
        follow_redirects=False,
    )
    assert form.status_code == 303, form.text
    assert "pinned" in form.headers["location"]
    found = client.get(f"/models/api/workflows/{WORKFLOW}", headers=as_user("admin")).json()
    assert found["applications"] == [{"application": "line1-hmi", "pin": "v1.0.0"}]
    back = client.post(
        f"/models/api/workflows/{WORKFLOW}/pin",
        json={"application": "line1-hmi", "pin": "production", "reason": "back"},
        headers=as_user("admin"),
    )
    assert back.json() == {
        "workflow": WORKFLOW,
        "application": "line1-hmi",
        "pin": "production",
        "actor": "airflow:admin",
    }
    unknown = client.post(
        f"/models/api/workflows/{WORKFLOW}/pin",
        json={"application": "line1-hmi", "pin": "v9.9.9", "reason": "x"},
        headers=as_user("admin"),
    )
    assert unknown.status_code == 404
    ungranted = client.post(
        "/models/api/workflows/surface_line1/pin",
        json={"application": "line1-hmi", "pin": "production", "reason": "x"},
        headers=as_user("admin"),
    )
    assert ungranted.status_code == 409 and "holds no grant" in ungranted.json()["detail"]
