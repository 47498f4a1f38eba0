"""What each DAG says about its workflow in the Airflow UI: its `doc_md` and its tags.

The doc is Markdown built from the workflow's config alone (no I/O, no TensorFlow): what
it inspects, the architecture, the data source, the schedule, the gate and the data
expectations, and links to the workflow's Models page and Data Docs.

Tags sort and filter the DAGs: `modelfleet`, the workflow, the kind of DAG (`retrain`,
`reclassify`, `monitor`) and the architecture family.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from modelfleet.config import Workflow
from modelfleet.datasets.specs import (
    DigitsSourceConfig,
    FolderSourceConfig,
    ProceduralSourceConfig,
)
from modelfleet.naming import MODELS_UI_MOUNT, reclassify_dag_id, retrain_dag_id

DagKind = Literal["retrain", "reclassify", "monitor"]

# Routes of the Models UI (modelfleet.ui.links; plugins/modelfleet_models.py mounts it at
# MODELS_UI_MOUNT). No leading slash: the Airflow UI's <base href> resolves them under its
# base URL, as the plugin's own links do.
_UI = MODELS_UI_MOUNT.lstrip("/")
MODELS_PAGE = _UI + "/workflows/{workflow}"
DATA_DOCS_PAGE = _UI + "/data-docs/{workflow}/index.html"

_MAX_CLASSES_SHOWN = 20


def dag_tags(workflow: Workflow, kind: DagKind) -> list[str]:
    """The tags of `workflow`'s DAG of this kind (sorted, so the UI shows them in order)."""
    return sorted({"modelfleet", workflow.name, kind, workflow.architecture})


def models_page(workflow: str) -> str:
    return MODELS_PAGE.format(workflow=quote(workflow, safe=""))


def data_docs_page(workflow: str) -> str:
    return DATA_DOCS_PAGE.format(workflow=quote(workflow, safe=""))


def retrain_doc(workflow: Workflow) -> str:
    """The `doc_md` of `retrain__<wf>`."""
    gate, expect = workflow.gate, workflow.expectations
    return _join(
        f"# {retrain_dag_id(workflow.name)}",
        "Monthly retrain: snapshot the month's data, validate it, train a candidate, "
        "evaluate it, gate it against production, then register, deploy and smoke-test it.",
        _about(workflow),
        "## Schedule",
        f"`{workflow.schedule}` (UTC). A scheduled run or a backfill trains on the month its "
        "data interval starts in (the run on 1 March trains on February). A manual trigger "
        "trains on the form's `month`, or, left blank, on the latest month with data. A "
        "month without data skips the run and says why.",
        "## Gate",
        "A candidate is released only if every check passes:",
        _table(
            ("check", "threshold"),
            [
                ("accuracy on the frozen test set", f"≥ {gate.min_accuracy}"),
                ("macro F1 on the test set", f"≥ {gate.min_macro_f1}"),
                ("every class's recall on the test set", f"≥ {gate.min_class_recall}"),
                ("test images", f"≥ {gate.min_test_samples}"),
                ("accuracy drop vs production", f"≤ {gate.max_accuracy_drop}"),
                ("macro F1 drop vs production", f"≤ {gate.max_macro_f1_drop}"),
                ("any class's recall drop vs production", f"≤ {gate.max_class_recall_drop}"),
                ("accuracy gain vs production", f"≥ {gate.min_improvement}"),
                (
                    "accuracy loss vs production on the month's holdout",
                    f"≤ {gate.max_holdout_loss}",
                ),
            ],
        ),
        _approval(workflow),
        *_shadow(workflow),
        f"After deploy, the smoke test rolls production back if live accuracy is more than "
        f"{workflow.smoke.accuracy_tolerance} below the evaluation or p95 latency exceeds "
        f"{workflow.smoke.max_p95_latency_s} s.",
        "## Data expectations",
        "A month must meet these before it trains a model:",
        _table(
            ("expectation", "value"),
            [
                ("new training images", f"≥ {expect.min_rows}"),
                ("each class's share", f"{expect.min_class_share} to {expect.max_class_share}"),
                ("file size (bytes)", f"{expect.min_bytes} to {expect.max_bytes}"),
                ("brightness shift vs the previous month", f"≤ {expect.max_brightness_shift}"),
                ("contrast shift vs the previous month", f"≤ {expect.max_contrast_shift}"),
                (
                    "bad files quarantined (share of the month)",
                    f"≤ {expect.quarantine_ok_fraction}",
                ),
                ("warn only", ", ".join(expect.warn_only) or "none"),
            ],
        ),
        _links(workflow.name),
    )


def reclassify_doc(workflow: Workflow) -> str:
    """The `doc_md` of `reclassify__<wf>`."""
    when = (
        "after each promotion of a new production version, and by hand"
        if workflow.ingest.reclassify_after_promotion
        else "by hand only (`ingest.reclassify_after_promotion` is off)"
    )
    return _join(
        f"# {reclassify_dag_id(workflow.name)}",
        "Re-classify the images the stream classifier stored in the lake with one model "
        "version (`version`: production, candidate or vX.Y.Z), optionally between "
        "`first_day` and `last_day`, writing new prediction rows.",
        _about(workflow),
        "## Schedule",
        f"Runs {when}.",
        _links(workflow.name),
    )


def _about(workflow: Workflow) -> str:
    height, width, channels = workflow.input_shape
    colour = "grayscale" if channels == 1 else "colour"
    classes = workflow.classes
    shown = ", ".join(f"`{c}`" for c in classes[:_MAX_CLASSES_SHOWN])
    more = (
        f" and {len(classes) - _MAX_CLASSES_SHOWN} more"
        if len(classes) > _MAX_CLASSES_SHOWN
        else ""
    )
    params = workflow.params
    return _join(
        f"## {workflow.name}",
        f"Inspects {height}×{width} {colour} images and sorts them into "
        f"{len(classes)} classes: {shown}{more}.",
        _table(
            ("", ""),
            [
                ("architecture", f"`{workflow.architecture}`, {_warm_start(workflow)}"),
                ("data source", _source(workflow)),
                (
                    "training",
                    f"{params.window_months} months of data, {params.epochs} epochs, "
                    f"batch {params.batch_size}, learning rate {params.learning_rate}",
                ),
            ],
        ),
    )


def _approval(workflow: Workflow) -> str:
    release = workflow.release
    if release.approval == "none":
        return "Approval: none, the gate decides alone (`release.approval: none`)."
    who = (
        "approves every candidate the gate passed"
        if release.approval == "required"
        else "may release a candidate the gate rejected"
    )
    return (
        f"Approval (`release.approval: {release.approval}`): a person {who} in the "
        f"run's approval step; with no answer within {_duration(release.approval_timeout)} "
        "the candidate is rejected."
    )


def _shadow(workflow: Workflow) -> tuple[str, ...]:
    """A paragraph on the shadow step where there is one (release.shadow_fraction > 0)."""
    release = workflow.release
    if release.shadow_fraction <= 0:
        return ()
    return (
        f"Shadow (`release.shadow_fraction: {release.shadow_fraction}`): after register, the "
        "endpoint mirrors that share of production traffic to the candidate; the `shadow` "
        f"step waits for {release.min_shadow_requests} answers and deploys only if at least "
        f"{release.min_shadow_agreement:.0%} agree with production. Short of answers after "
        f"{_duration(release.shadow_timeout)}, the candidate is rejected.",
    )


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _warm_start(workflow: Workflow) -> str:
    if workflow.transfer_from:
        return f"reusing the frozen base of `{workflow.transfer_from}`'s production model"
    if workflow.init_from == "production":
        return "warm-started from its own production weights"
    return "trained from scratch"


def _source(workflow: Workflow) -> str:
    src = workflow.source
    if isinstance(src, FolderSourceConfig):
        return f"your images at `{_without_credentials(src.url)}`, one folder per month"
    if isinstance(src, DigitsSourceConfig):
        what = "scikit-learn's 8×8 digit scans"
    elif isinstance(src, ProceduralSourceConfig):
        what = f"generated `{src.generator}` images with monthly drift"
    else:
        what = f"patches of {', '.join(src.source_images)} with monthly drift"
    return f"{what}, {src.months} months from {src.start_month}"


def _without_credentials(url: str) -> str:
    """`url` without any user:password before its host (the doc is shown to every viewer)."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _links(workflow: str) -> str:
    items = "\n".join(
        (
            f"- [Models page]({models_page(workflow)}): versions, metrics and lineage",
            f"- [Data Docs]({data_docs_page(workflow)}): Great Expectations' report of each "
            "validated month",
        )
    )
    return _join("## Links", items)


def _table(header: tuple[str, str], rows: list[tuple[str, str]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {left} | {right} |" for left, right in rows]
    return "\n".join(lines)


def _join(*blocks: str) -> str:
    return "\n\n".join(blocks)
