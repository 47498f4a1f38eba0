"""Each DAG's doc and tags describe its own workflow; the trigger form proposes the months
a workflow has data for, and a parse with no registry to ask still succeeds.

Airflow is imported inside the tests that build DAGs (see test_dag_factory.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from modelfleet.config import Fleet, load_fleet, parse_fleet
from modelfleet.orchestration.dag_docs import (
    dag_tags,
    data_docs_page,
    models_page,
    reclassify_doc,
    retrain_doc,
)
from modelfleet.orchestration.months_with_data import (
    declared_months,
    months_with_data,
    recorded_at_parse,
)
from modelfleet.settings import CHECKOUT, DATABASE_URL_ENV
from modelfleet.ui.links import Links
from tests.helpers.user_workflow import write_user_workflow


@pytest.fixture()
def fleet(tmp_path: Path) -> Fleet:
    write_user_workflow(tmp_path)  # `photos`: a folder source
    return load_fleet(CHECKOUT / "workflows.yaml", tmp_path)


def test_the_retrain_doc_describes_its_own_workflow(fleet: Fleet) -> None:
    wf = fleet.get("surface_coil")
    doc = retrain_doc(wf)
    assert doc.startswith("# retrain__surface_coil\n")
    assert "32×32 grayscale images" in doc
    assert "4 classes: `ok`, `scratch`, `spot`, `crack`" in doc
    assert "`lenet`, reusing the frozen base of `surface_line1`'s production model" in doc
    assert "generated `surface` images with monthly drift, 12 months from 2026-01" in doc
    assert "`@monthly` (UTC)" in doc and "latest month with data" in doc
    assert f"| accuracy on the frozen test set | ≥ {wf.gate.min_accuracy} |" in doc
    assert f"| accuracy drop vs production | ≤ {wf.gate.max_accuracy_drop} |" in doc
    assert f"| new training images | ≥ {wf.expectations.min_rows} |" in doc
    assert "| warn only | contrast_drift |" in doc
    assert "[Models page](models/workflows/surface_coil)" in doc
    assert "[Data Docs](models/data-docs/surface_coil/index.html)" in doc


def test_the_gate_section_says_who_approves(fleet: Fleet) -> None:
    digits = fleet.get("digits")
    assert "Approval: none, the gate decides alone" in retrain_doc(digits)
    release = digits.release.model_copy(
        update={"approval": "required", "approval_timeout": timedelta(hours=24)}
    )
    doc = retrain_doc(digits.model_copy(update={"release": release}))
    assert "a person approves every candidate the gate passed" in doc
    assert "with no answer within 1d the candidate is rejected" in doc


def test_docs_differ_per_workflow_and_name_the_source(fleet: Fleet) -> None:
    docs = {name: retrain_doc(wf) for name, wf in fleet.workflows.items()}
    assert len(set(docs.values())) == len(docs)
    assert "scikit-learn's 8×8 digit scans, 6 months from 2026-01" in docs["digits"]
    assert "your images at `/data/p`, one folder per month" in docs["photos"]
    assert "warm-started from its own production weights" in docs["surface_line2"]


def test_a_folder_url_is_shown_without_its_credentials(fleet: Fleet) -> None:
    photos = fleet.get("photos")
    source = photos.source.model_copy(update={"url": "https://ann:s3cret@example.com/imgs"})
    doc = retrain_doc(photos.model_copy(update={"source": source}))
    assert "`https://example.com/imgs`" in doc
    assert "s3cret" not in doc and "ann" not in doc


def test_the_reclassify_doc_says_when_it_runs(fleet: Fleet) -> None:
    digits = fleet.get("digits")
    assert "by hand only" in reclassify_doc(digits)
    follows = digits.model_copy(
        update={"ingest": digits.ingest.model_copy(update={"reclassify_after_promotion": True})}
    )
    doc = reclassify_doc(follows)
    assert doc.startswith("# reclassify__digits\n") and "after each promotion" in doc
    assert "[Models page](models/workflows/digits)" in doc


def test_links_are_the_models_ui_routes_under_the_airflow_base() -> None:
    # The Models UI is mounted at /models of the Airflow UI, whose <base href> resolves
    # these relative links; they must be the routes its own Links build.
    ui = Links(app="models", airflow="", data_docs_root=Path("/home/data-docs"))
    assert models_page("digits") == ui.workflow("digits")
    assert data_docs_page("digits") == ui.data_docs("file:///home/data-docs/digits/index.html")


def test_tags_name_the_kind_the_workflow_and_the_architecture_family(fleet: Fleet) -> None:
    line2 = fleet.get("surface_line2")
    assert dag_tags(line2, "retrain") == ["modelfleet", "resnet", "retrain", "surface_line2"]
    assert dag_tags(line2, "reclassify") == ["modelfleet", "reclassify", "resnet", "surface_line2"]
    assert "monitor" in dag_tags(line2, "monitor")


def test_months_with_data_are_the_declared_ones_and_the_recorded_ones(fleet: Fleet) -> None:
    digits, photos = fleet.get("digits"), fleet.get("photos")
    assert declared_months(digits) == [f"2026-0{m}" for m in range(1, 7)]
    assert declared_months(photos) == []  # a folder's months are discovered, never listed here
    recorded = {"photos": ["2026-05", "2026-03"], "digits": ["2026-06", "2026-09"]}
    assert months_with_data(photos, recorded) == ["2026-03", "2026-05"]
    assert months_with_data(digits, recorded)[-2:] == ["2026-06", "2026-09"]
    assert months_with_data(photos, {}) == []


def test_built_dags_carry_their_docs_tags_and_month_examples(fleet: Fleet, monkeypatch) -> None:
    from modelfleet.orchestration.dag_factory import build_all

    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)  # no registry: declared months only
    dags = build_all(fleet)
    retrain, reclassify = dags["retrain__digits"], dags["reclassify__digits"]
    assert retrain.doc_md == retrain_doc(fleet.get("digits"))
    assert reclassify.doc_md == reclassify_doc(fleet.get("digits"))
    assert set(retrain.tags) == {"modelfleet", "digits", "retrain", "lenet"}
    assert set(reclassify.tags) == {"modelfleet", "digits", "reclassify", "lenet"}
    month = retrain.params.get_param("month")
    assert month.schema["examples"] == declared_months(fleet.get("digits"))
    assert "enum" not in month.schema
    assert "examples" not in dags["retrain__photos"].params.get_param("month").schema
    first_day = reclassify.params.get_param("first_day").schema
    assert first_day["type"] == ["null", "string"] and first_day["pattern"].startswith("^")


def test_a_parse_with_the_registry_unreachable_still_builds_every_dag(monkeypatch) -> None:
    from modelfleet.orchestration.dag_factory import build_all

    # port 1: nothing listens, the connection is refused at once
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+psycopg2://postgres@127.0.0.1:1/none")
    fleet = parse_fleet(
        {
            "workflows": {
                "digits": {
                    "source": {"kind": "sklearn_digits", "start_month": "2026-01", "months": 2},
                    "classes": [str(d) for d in range(10)],
                    "input_shape": [28, 28, 1],
                    "architecture": "lenet",
                }
            }
        }
    )
    assert recorded_at_parse(fleet) == {}
    dags = build_all(fleet)
    examples = dags["retrain__digits"].params.get_param("month").schema["examples"]
    assert examples == ["2026-01", "2026-02"]
