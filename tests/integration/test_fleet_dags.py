"""Several workflows, architectures and data sources through `retrain__<wf>`, including
transfer learning from another workflow's production model."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from modelfleet.registry.store import lineage, versions
from tests.integration.conftest import release_first_month, workspace_of, write_fleet
from tests.integration.test_retrain_dag import run_dag

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# (workflow, architecture, data source) — four families, three sources.
FLEET = [
    ("caps_line1", "resnet", "procedural cap"),
    ("weld_station_a", "alexnet", "procedural weld"),
    ("materials_scenery", "lenet", "packaged sklearn images"),
]


@pytest.fixture(scope="module")
def quick_fleet(platform, tmp_path_factory, monkeypatch_module):
    # Plumbing, not model quality: a low absolute gate so every candidate is released.
    path = write_fleet(
        tmp_path_factory.mktemp("fleet") / "fleet.yaml",
        gate={"min_accuracy": 0.3, "min_macro_f1": 0.0, "min_class_recall": 0.0},
        epochs=3,
    )
    monkeypatch_module.setenv("MODELFLEET_CONFIG", str(path))
    return platform


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize(("workflow", "architecture", "source"), FLEET)
def test_workflow_runs_end_to_end(quick_fleet, workflow, architecture, source):
    from modelfleet.registry import db

    state, tasks = run_dag("2026-01", dag_id=f"retrain__{workflow}")
    assert state == "success", tasks
    assert set(tasks.values()) == {"success"}, tasks
    with Session(db.engine(quick_fleet.database_url)) as session:
        production = versions.resolve_alias(session, workflow)
        assert production is not None and production.version == "v1.0.0"
        chain = lineage.version_lineage(session, workflow, "v1.0.0")
    assert chain["training_run"]["architecture"] == architecture
    assert chain["model_version"]["artifacts"]["confusion"].endswith("confusion.png")
    workspace = workspace_of(workflow, "v1.0.0")
    assert (workspace / f"models/{workflow}/confusion.png").stat().st_size > 1000
    assert (workspace / f"models/{workflow}/curves.png").stat().st_size > 1000


def test_transfer_learning_records_the_parent(quick_fleet):
    """caps_sorter reuses caps_line1's production ResNet base (released above, or here
    when this test runs alone)."""
    from modelfleet.registry import db

    release_first_month(quick_fleet, "caps_line1")
    state, tasks = run_dag("2026-01", dag_id="retrain__caps_sorter")
    assert state == "success", tasks
    with Session(db.engine(quick_fleet.database_url)) as session:
        parent = versions.resolve_alias(session, "caps_line1")
        chain = lineage.version_lineage(session, "caps_sorter", "v1.0.0")
    assert parent is not None
    assert chain["training_run"]["parent"] == parent.tag
    assert chain["training_run"]["params"]["warm_start"] == "transfer"
