"""The lineage graph and the metric chart: pure functions of the chain."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

from modelfleet.ui.graph import graph_svg, lineage_graph, trend_svg, value_axis
from modelfleet.ui.links import Links

LINKS = Links(app="/base/models", airflow="/base", data_docs_root=Path("/home/mf/data-docs"))
CHAIN = {
    "prediction": {
        "id": 3,
        "image_sha256": "ab" * 32,
        "label": "scratch",
        "score": 0.9,
        "at": "2026-03-01T10:00:00",
    },
    "model_version": {
        "workflow": "welds",
        "version": "v1.2.0",
        "tag": "welds@v1.2.0",
        "artifact_sha256": "e" * 64,
        "repo_commit": "f" * 40,
        "created_at": "2026-03-01T09:00:00",
    },
    "training_run": {
        "id": 7,
        "dag_id": "retrain__welds",
        "run_id": "manual__2026-03-01T08:00:00+00:00",
        "code_sha": "c" * 40,
        "architecture": "resnet",
        "params": {"params": {"epochs": 8}},
        "fit_seconds": 12.5,
        "parent": "welds@v1.1.0",
    },
    "evaluation": {"accuracy": 0.9, "macro_f1": 0.88, "n": 100},
    "gate_decision": {"passed": False, "checks": []},
    "dataset_version": {
        "id": 5,
        "month": "2026-02",
        "months": ["2025-12", "2026-02"],
        "train_dvc_md5": "d" * 32,
        "n_train": 300,
    },
    "validation": {
        "success": True,
        "gx_run_id": "gx",
        "data_docs": "file:///home/mf/data-docs/welds/validations/x.html",
        "statistics": {"evaluated_expectations": 9, "successful_expectations": 9},
    },
}
RUNS = {
    "training_run": {"dag_id": "retrain__welds", "run_id": "manual__2026-03-01T08:00:00+00:00"},
    "dataset_version": {"dag_id": "retrain__welds", "run_id": "manual__2026-03-01T08:00:00+00:00"},
}


def test_the_chain_runs_from_prediction_to_validation_with_links():
    graph = lineage_graph(CHAIN, RUNS, LINKS)
    nodes = {n.id: n for n in graph.nodes}
    chain = ["prediction", "model_version", "training_run", "dataset_version", "validation"]
    assert [nodes[n].col for n in chain] == [0, 1, 2, 3, 4]
    assert set(pairwise(chain)) <= set(graph.edges)
    run_url = "/base/dags/retrain__welds/runs/manual__2026-03-01T08%3A00%3A00%2B00%3A00"
    assert nodes["training_run"].href == run_url and nodes["training_run"].leaves_app
    assert nodes["dataset_version"].href == run_url
    assert nodes["validation"].href == "/base/models/data-docs/welds/validations/x.html"
    assert nodes["model_version"].href == "/base/models/workflows/welds?version=v1.2.0#selected"
    assert nodes["parent"].href == "/base/models/lineage/welds%40v1.1.0"
    assert nodes["gate"].status == "bad"


def test_the_svg_escapes_text_and_opens_airflow_links_in_the_whole_window():
    chain = {**CHAIN, "prediction": {**CHAIN["prediction"], "label": "<script>"}}
    svg = str(graph_svg(lineage_graph(chain, RUNS, LINKS)))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('target="_top"') == 2  # training run and dataset: Airflow pages
    assert svg.count("<line") == 7


def test_data_docs_outside_the_site_get_no_link():
    chain = {**CHAIN, "validation": {**CHAIN["validation"], "data_docs": "file:///etc/passwd"}}
    nodes = {n.id: n for n in lineage_graph(chain, RUNS, LINKS).nodes}
    assert nodes["validation"].href is None


def test_trend_draws_one_line_per_metric_and_skips_missing_values():
    svg = str(
        trend_svg(
            [("v1.0.0", {"acc": 0.5, "f1": None}), ("v1.1.0", {"acc": 1.0, "f1": 0.7})],
            ["acc", "f1"],
        )
    )
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 3
    assert trend_svg([], ["acc"]) == ""


def test_trend_y_axis_fits_the_values_not_zero_to_one():
    svg = str(trend_svg([("v1.0.0", {"acc": 0.97}), ("v1.1.0", {"acc": 0.99})], ["acc"]))
    low, high = (float(v) for v in re.findall(r'data-y-(?:min|max)="([^"]+)"', svg))
    assert 0.95 < low < 0.97 and 0.99 < high <= 1.0
    ticks = re.findall(r'class="axis">([0-9.]+)</text>', svg)
    assert "0.00" not in ticks and len(set(ticks)) >= 4
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', svg)]
    assert ys[0] - ys[1] > 120  # two points apart by most of the chart's height


def test_value_axis_keeps_scores_within_zero_and_one():
    assert value_axis([0.0, 0.5])[0] == 0.0
    assert value_axis([0.99, 1.0])[1] == 1.0
    low, high, ticks = value_axis([0.5])  # one value: a small band around it
    assert low < 0.5 < high and len(ticks) == 5
