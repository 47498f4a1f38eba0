"""The shadow step's wiring (orchestration/shadow_step.py): register >> shadow >> deploy
only where release.shadow_fraction > 0. Airflow is imported inside the tests."""

from __future__ import annotations

from datetime import timedelta

from modelfleet.config import Workflow, load_fleet
from modelfleet.settings import CHECKOUT


def _workflow(**release: object) -> Workflow:
    digits = load_fleet(CHECKOUT / "workflows.yaml").get("digits")
    policy = digits.release.model_copy(update=release)
    return digits.model_copy(update={"release": policy})


def _edges(workflow: Workflow) -> dict[str, set[str]]:
    from modelfleet.orchestration.dag_factory import build_retrain_dag

    dag = build_retrain_dag(workflow)
    return {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}


def test_without_shadow_there_is_no_shadow_step():
    edges = _edges(_workflow())
    assert "shadow" not in edges
    assert edges["deploy"] == {"register"}


def test_shadow_sits_between_register_and_deploy():
    from modelfleet.orchestration.dag_factory import build_retrain_dag
    from modelfleet.orchestration.shadow_step import ShadowRelease

    workflow = _workflow(shadow_fraction=0.5, shadow_timeout=timedelta(hours=2))
    edges = _edges(workflow)
    assert edges["shadow"] == {"register"}
    assert edges["deploy"] == {"register", "shadow"}
    assert edges["smoke"] == {"deploy"}
    step = build_retrain_dag(workflow).get_task("shadow")
    assert isinstance(step, ShadowRelease)
    assert step.mode == "reschedule"  # no worker slot held while it waits
    # Airflow's own timeout is a backstop after the step's recorded one
    assert step.timeout > timedelta(hours=2).total_seconds()


def test_shadow_follows_approval():
    edges = _edges(_workflow(shadow_fraction=1.0, approval="required"))
    assert edges["register"] == {"approve", "train"}
    assert edges["shadow"] == {"register"}
    assert edges["deploy"] == {"register", "shadow"}


def test_the_dag_doc_describes_the_shadow_step():
    from modelfleet.orchestration.dag_docs import retrain_doc

    assert "Shadow" not in retrain_doc(_workflow())
    doc = retrain_doc(_workflow(shadow_fraction=0.25, min_shadow_agreement=0.9))
    assert "`release.shadow_fraction: 0.25`" in doc and "at least 90% agree" in doc
    assert "after 1d, the candidate is rejected" in doc
