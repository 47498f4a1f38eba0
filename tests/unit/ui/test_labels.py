"""The label form on an image's lineage page: shown to those who may run the workflow's
DAG, same-origin only, the label one of the classes; the page shows the latest label
beside the prediction, with its history."""

from __future__ import annotations

from modelfleet.ui.labels import label_form
from tests.unit.ui.conftest import IMAGE, USERS, WORKFLOW, as_user

ORIGIN = {"Origin": "http://airflow.test"}


def _label(client, user: str, label: str, reason: str = "", **headers: str):
    return client.post(
        f"/models/lineage/{IMAGE}/label",
        data={"workflow": WORKFLOW, "label": label, "reason": reason},
        headers={**as_user(user), **ORIGIN, **headers},
        follow_redirects=False,
    )


def test_the_form_is_for_those_who_may_run_the_dag(client):
    admin = client.get(f"/models/lineage/{IMAGE}", headers=as_user("admin")).text
    assert 'id="label-form"' in admin and "<option>9</option>" in admin
    viewer = client.get(f"/models/lineage/{IMAGE}", headers=as_user("viewer")).text
    assert 'id="label-form"' not in viewer
    refused = _label(client, "viewer", "1")
    assert refused.status_code == 403 and "may not move versions" in refused.text
    version_page = label_form(USERS["admin"], {"model_version": {"workflow": WORKFLOW}})
    assert version_page == {"label_classes": None}  # a version's lineage has no image


def test_a_label_is_recorded_and_shown_beside_the_prediction(client):
    given = _label(client, "admin", "1", "a one, not a seven")
    assert given.status_code == 303, given.text
    assert given.headers["location"].startswith(f"/models/lineage/{IMAGE}?done=labelled%201")
    assert _label(client, "admin", "7", "it was a seven").status_code == 303
    page = client.get(given.headers["location"], headers=as_user("viewer")).text
    assert "labelled 1 by airflow:admin" in page  # the done message
    assert "<b>7</b> by airflow:admin" in page and "it was a seven" in page
    assert "earlier: 1 by airflow:admin" in page
    chain = client.get(f"/models/api/lineage/{IMAGE}", headers=as_user("viewer")).json()["chain"]
    assert chain["prediction"]["label"] == "7" and chain["labelled"]["label"] == "7"
    assert [h["label"] for h in chain["labelled"]["history"]][-2:] == ["1", "7"]


def test_a_label_outside_the_classes_or_from_another_origin_is_refused(client):
    bad = _label(client, "admin", "seven")
    assert bad.status_code == 400 and "is not one of its classes: 0, 1, 2" in bad.text
    forged = _label(client, "admin", "1", Origin="https://evil.example")
    assert forged.status_code == 403
