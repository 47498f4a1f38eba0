"""`modelfleet status` asks each service whether it answers, Postgres included: a service
nobody answers for shows as down, one that answers as up. The services are stand-ins (a
small HTTP server, a listening socket) and the real local Postgres; the checks are real."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modelfleet.cli import main
from modelfleet.host.ports import free_port
from modelfleet.settings import AIRFLOW_PORT_ENV, DATABASE_URL_ENV, ENDPOINT_URL_ENV, HOME_ENV

AIRFLOW_REPORT = {
    "metadatabase": {"status": "healthy"},
    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-12-04T18:00:00"},
    "triggerer": {"status": "healthy"},
    "dag_processor": {"status": "unhealthy"},
}


class _Answers(BaseHTTPRequestHandler):
    """The endpoint's /healthz and Airflow's health report, as they answer."""

    def do_GET(self) -> None:
        body = {"/healthz": {"ready": True}, "/api/v2/monitor/health": AIRFLOW_REPORT}.get(
            self.path
        )
        self.send_response(404 if body is None else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def answering() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _status(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, str]]:
    assert main(["status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"services", "airflow_url", "endpoint_url", "home"}
    for service in document["services"]:
        assert set(service) == {"name", "process", "health", "detail"}
    return {service["name"]: service for service in document["services"]}


def test_services_nobody_answers_for_show_as_down(home, monkeypatch, capsys):
    nobody = free_port()
    monkeypatch.setenv(DATABASE_URL_ENV, f"postgresql+psycopg2://postgres@127.0.0.1:{nobody}/x")
    monkeypatch.setenv(ENDPOINT_URL_ENV, f"http://127.0.0.1:{nobody}")
    monkeypatch.setenv(AIRFLOW_PORT_ENV, str(nobody))
    services = _status(capsys)
    assert next(iter(services)) == "postgres"
    assert services["postgres"]["process"] == "external"
    for name in ("postgres", "endpoint", "airflow-api-server", "airflow-scheduler", "warm-runner"):
        assert services[name]["health"] == "down", services[name]
    assert "Connection refused" in services["postgres"]["detail"]
    assert services["endpoint"]["process"] == "stopped"
    assert services["ingest"]["health"] == "unchecked"


def test_services_that_answer_show_as_up(home, monkeypatch, capsys, answering, pg_server):
    monkeypatch.setenv(DATABASE_URL_ENV, pg_server)
    monkeypatch.setenv(ENDPOINT_URL_ENV, f"http://127.0.0.1:{answering}")
    monkeypatch.setenv(AIRFLOW_PORT_ENV, str(answering))
    (home / "run").mkdir(parents=True)
    with socket.socket(socket.AF_UNIX) as warm:
        warm.bind(str(home / "run" / "warm.sock"))
        warm.listen()
        services = _status(capsys)
    health = {name: service["health"] for name, service in services.items()}
    assert health["postgres"] == "up" and "SELECT 1" in services["postgres"]["detail"]
    assert health["endpoint"] == health["airflow-api-server"] == health["warm-runner"] == "up"
    assert health["airflow-scheduler"] == health["airflow-triggerer"] == "up"
    assert health["airflow-dag-processor"] == "down"  # Airflow reports it unhealthy
    assert "2026-12-04T18:00:00" in services["airflow-scheduler"]["detail"]


def test_status_prints_a_line_per_service(home, monkeypatch, capsys):
    nobody = free_port()
    monkeypatch.setenv(DATABASE_URL_ENV, f"postgresql+psycopg2://postgres@127.0.0.1:{nobody}/x")
    monkeypatch.setenv(ENDPOINT_URL_ENV, f"http://127.0.0.1:{nobody}")
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["postgres", "external", "down"]
    assert any(line.split()[:3] == ["endpoint", "stopped", "down"] for line in lines)
