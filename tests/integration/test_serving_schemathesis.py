"""Schemathesis against the endpoint over HTTP, every check but `positive_data_acceptance`
(schema-valid tensors of the wrong shape are rightly refused): no 5xx, every status and
content type documented, Retry-After where documented, 405 with Allow, auth enforced,
invalid data rejected. Here with a stand-in model, so that it runs in seconds;
test_serving_endpoint.py runs the same against real models and the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelfleet.settings import EndpointLimits
from tests.integration.test_serving_limits import live
from tests.unit.serving.conftest import KEYS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def run_schemathesis(
    url: str, headers: dict[str, str], parameters: dict[str, str], folder: Path, examples: int
) -> subprocess.CompletedProcess[str]:
    """`schemathesis run` over the endpoint's own OpenAPI document, path parameters set
    to things that exist (else most cases end in 404 before any real logic)."""
    config = folder / "schemathesis.toml"
    config.write_text(
        "[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in parameters.items())
    )
    command = [str(SCHEMATHESIS), "--config-file", str(config), "run", f"{url}/openapi.json"]
    command += ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
    command += ["--max-examples", str(examples), "--seed", "19", "--workers", "1"]
    command += ["--generation-database", "none", "--no-color", "--request-timeout", "30"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=folder)


def test_schemathesis_finds_nothing_against_the_live_endpoint(tmp_path):
    # Its auth probes send wrong keys by the dozen: no failed-attempt limit here (tested
    # on its own in tests/unit/serving/test_limits.py).
    with live(EndpointLimits(auth_failures_per_min=0)) as url:
        ran = run_schemathesis(
            url,
            {"Authorization": f"Bearer {KEYS['admin']}"},
            {"workflow": "digits", "version": "1000000", "label": "production"},
            tmp_path,
            examples=10,
        )
    assert ran.returncode == 0, ran.stdout[-8000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout
