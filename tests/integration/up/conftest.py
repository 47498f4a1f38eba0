"""One real platform for the tests that need Airflow's daemons: `modelfleet up` (the
api-server, scheduler and dag-processor, the endpoint, the stream classifier) in a
temporary home, shared by this package's modules and stopped after the last of them.

Bringing it up costs about a minute on two busy cores, and its daemons load the cores
while it runs: one platform for `retrain --wait` and `workflow add` rather than one per
module. Here `platform` is that platform; elsewhere it is the session's, whose DAG runs
go through `dag.test()` in the test process.

The fleet is digits alone (a quick DAG parse). The gate's change rules are off: any
candidate that passes the absolute gate replaces production (the gate's own rules are
tested elsewhere). The S3 variables of moto's server are in the environment before `up`,
so every process it starts can reach the bucket a workflow is added from.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.running_platform import RunningPlatform, running_platform
from tests.helpers.s3 import S3Server
from tests.integration.conftest import write_fleet

LENIENT_GATE = {
    "max_accuracy_drop": 1.0,
    "max_macro_f1_drop": 1.0,
    "max_class_recall_drop": 1.0,
    "max_holdout_loss": 1.0,
}


@pytest.fixture(scope="package")
def platform(
    pg_server: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    home = tmp_path_factory.mktemp("up-home")
    fleet = write_fleet(home / "workflows.yaml", gate=LENIENT_GATE, only=("digits",))
    s3_env = {
        **s3_server.env,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }
    with running_platform(pg_server, home, fleet, s3_env) as running:
        yield running
