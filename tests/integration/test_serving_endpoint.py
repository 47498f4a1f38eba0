"""The live endpoint (a `modelfleet serve` subprocess) with real models of `digits`:
both protocols, application keys and pins through the CLI, the admin routes, a
promotion to a version that is not loaded while clients keep querying, metrics,
and schemathesis over the whole OpenAPI document."""

from __future__ import annotations

import base64
import os
import subprocess

import httpx
import pytest
from sqlalchemy.orm import Session

from modelfleet.cli import main
from modelfleet.registry.store import versions
from tests.integration.conftest import (
    BIN,
    all_versions,
    eventually,
    frozen_test_image,
    loaded,
    promote,
    under_load,
    wait_http,
)
from tests.integration.test_retrain_dag import production, run_dag

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_real_model_answers_alike_over_both_protocols(served):
    image = base64.b64encode(frozen_test_image()).decode()
    with httpx.Client(base_url=served.endpoint_url, headers=served.admin_headers) as client:
        tf = client.post("/v1/models/digits:predict", json={"instances": [{"b64": image}]})
        v2 = client.post(
            "/v2/models/digits/infer",
            json={
                "inputs": [
                    {"name": "encoded_image", "shape": [1], "datatype": "BYTES", "data": [image]}
                ]
            },
        )
        upload = client.post(
            "/v1/models/digits:classify", files={"file": ("x.png", frozen_test_image())}
        )
        meta = client.get("/v1/models/digits/metadata")
    assert tf.status_code == v2.status_code == upload.status_code == meta.status_code == 200
    current = production(served)
    for response in (tf, v2, upload, meta):
        assert response.headers["X-Model-Version"] == current
    probabilities = tf.json()["predictions"][0]
    assert v2.json()["outputs"][0]["data"] == probabilities
    best = max(range(10), key=probabilities.__getitem__)
    assert v2.json()["outputs"][1]["data"] == [str(best)] == [upload.json()["label"]]
    assert meta.json()["classes"] == [str(d) for d in range(10)]


def test_application_keys_grants_pins_and_revocation(served, capsys):
    current = production(served)
    # Prefer a version outside the policy so that the pin itself must load it.
    others = [v for v in all_versions(served) if v != current]
    older = next((v for v in others if v not in loaded(served)), others[0])
    assert main(["apps", "create", "hmi", "--grant", f"digits={older}", "--actor", "test"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("mf_")
    url = served.endpoint_url
    body = {"instances": [{"b64": base64.b64encode(frozen_test_image()).decode()}]}

    def as_hmi(path: str = "/v1/models/digits:predict", **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        return httpx.post(url + path, json=body, headers={"Authorization": f"Bearer {key}"}, **kw)

    # The pinned version is loaded (policy) and answers unversioned requests.
    pinned = eventually(lambda: as_hmi().headers.get("X-Model-Version") == older)
    assert pinned, as_hmi().text
    assert older in loaded(served)
    assert httpx.post(url + "/v1/models/digits:predict", json=body).status_code == 401
    wrong = httpx.post(
        url + "/v1/models/digits:predict",
        json=body,
        headers={"Authorization": "Bearer " + key[:-2] + "xx"},
    )
    assert wrong.status_code == 401
    assert as_hmi("/v1/models/surface_line1:predict").status_code == 403
    denied = as_hmi("/admin/models/digits/rollback")
    assert denied.status_code == 403 and "not an admin" in denied.json()["error"]

    # An admin re-pins it through the management route; the move is immediate.
    moved = httpx.put(
        f"{url}/admin/applications/hmi/grants/digits",
        json={"pin": "production", "reason": "line back on the fleet model"},
        headers=served.admin_headers,
    )
    assert moved.status_code == 200, moved.text
    assert eventually(lambda: as_hmi().headers.get("X-Model-Version") == current)

    assert main(["apps", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"hmi"' in listed and key not in listed
    assert main(["apps", "revoke", "hmi"]) == 0
    assert eventually(lambda: as_hmi().status_code == 401)

    # A new key brings it back; `apps grant` moves the pin like the admin route does.
    assert main(["apps", "key", "hmi"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert (
        main(["apps", "grant", "hmi", f"digits={older}", "--reason", "back to the old model"]) == 0
    )
    assert eventually(lambda: as_hmi().headers.get("X-Model-Version") == older)


def test_promotion_to_an_unloaded_version_under_load_fails_no_request(served):
    # Run alone, digits has few versions and the policy (plus hmi's pin) keeps them all.
    months = iter(("2026-03", "2026-04"))
    while not (spare := [v for v in all_versions(served) if v not in loaded(served)]):
        state, tasks = run_dag(next(months))
        assert state == "success", tasks
    original = production(served)
    target = spare[0]
    body = {"instances": [{"b64": base64.b64encode(frozen_test_image()).decode()}]}
    with httpx.Client(
        base_url=served.endpoint_url, headers=served.admin_headers, timeout=30
    ) as client:
        try:
            with under_load(lambda: client.post("/v1/models/digits:predict", json=body)) as seen:
                promoted = promote(served, served.endpoint_url, target, "hot swap under load")
                assert promoted.status_code == 200, promoted.text
                assert eventually(lambda: bool(seen) and seen[-1][1] == target, 60)
        finally:
            restore = promote(served, served.endpoint_url, original, "test restores production")
    failures = [s for s in seen if s[0] != 200]
    assert not failures, failures[:5]
    assert {v for _, v in seen} <= {original, target}
    assert all(v == target for _, v in seen[-20:])
    assert restore.status_code == 200, restore.text
    from modelfleet.registry import db

    with Session(db.engine(served.database_url)) as session:
        event = versions.alias_history(session, "digits")[-2]
    assert (event.to_version, event.actor) == (target, "modelfleet-admin")


def test_a_declared_workflow_with_nothing_deployed_is_a_404(served):
    from modelfleet.config import load_fleet

    # A declared workflow that no test of the session released (several release one).
    name = next(wf for wf in load_fleet().workflows if not all_versions(served, wf))
    for path in (f"/v1/models/{name}", f"/v2/models/{name}/infer"):
        response = httpx.request(
            "GET" if path.startswith("/v1") else "POST",
            served.endpoint_url + path,
            json=None if path.startswith("/v1") else {"inputs": []},
            headers=served.admin_headers,
            timeout=10,
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"] == f"model '{name}' has no deployed version"


def test_metrics_show_traffic_batches_and_loaded_versions(served):
    text = httpx.get(f"{served.endpoint_url}/metrics", timeout=10).text
    current = production(served)
    assert f'modelfleet_loaded_version{{model="digits",version="{current}"}} 1.0' in text
    assert 'modelfleet_alias_version{alias="production",model="digits"}' in text
    assert 'modelfleet_batch_size_count{model="digits"' in text
    assert 'modelfleet_requests_total{model="digits",protocol="tfserving",status="200"' in text


def test_schemathesis_finds_nothing_against_the_real_endpoint(served, tmp_path):
    """Every check but positive_data_acceptance, over real models and the registry, admin
    routes included (a fuzzed rollback may move production: restored after). Its own
    `modelfleet serve` without the failed-attempt limit: the auth probes send wrong keys
    by the dozen, and from the 11th in a minute that address rightly gets 429."""
    from modelfleet.endpoint_client import EndpointClient
    from modelfleet.host.ports import free_port
    from tests.integration.test_serving_schemathesis import run_schemathesis

    original = production(served)
    # The grant route's application: one of its own, so that fuzzed pins move nothing else.
    assert main(["apps", "create", "fuzzed", "--grant", "digits=production", "--actor", "t"]) == 0
    url = f"http://127.0.0.1:{free_port()}"
    log_path = served.home / "endpoint-schemathesis.log"
    with log_path.open("w") as log:
        endpoint = subprocess.Popen(
            [str(BIN / "modelfleet"), "serve", "--port", str(httpx.URL(url).port)],
            # no gRPC: the platform's endpoint has the platform's gRPC port
            env={
                **os.environ,
                "MODELFLEET_AUTH_FAILURES_PER_MIN": "0",
                "MODELFLEET_GRPC_PORT": "0",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"{url}/healthz", endpoint, log_path)
        with EndpointClient(url, headers=served.admin_headers, timeout=10) as client:
            client.wait_for_version("digits", original)
        ran = run_schemathesis(
            url,
            served.admin_headers,
            {
                "workflow": "digits",
                "version": original,
                "label": "production",
                "application": "fuzzed",
            },
            tmp_path,
            examples=10,
        )
    finally:
        endpoint.terminate()
        endpoint.wait(30)
        if production(served) != original:
            restored = promote(served, served.endpoint_url, original, "test restores production")
            assert restored.status_code == 200, restored.text
    assert ran.returncode == 0, ran.stdout[-8000:] + ran.stderr[-2000:]
    assert "Traceback" not in log_path.read_text()
