"""Terminal views (rich) shared by the CLI and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

# Rich fits output to 80 columns when stdout is not a terminal, cutting cells to
# `caps_li…`; a pipe or a file gets every character instead (no table is this wide).
PIPED_WIDTH = 10_000


def console() -> Console:
    """A console for stdout: the terminal's width there, never a cut cell elsewhere."""
    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=PIPED_WIDTH)


def render_lineage(chain: dict[str, Any]) -> Tree:
    """prediction -> model version -> training run -> dataset -> validation, as a tree."""
    mv = chain["model_version"]
    run = chain["training_run"]
    ds = chain["dataset_version"]
    root: Tree
    if "prediction" in chain:
        p = chain["prediction"]
        root = Tree(
            f"[bold]prediction[/] #{p['id']}: {p['label']} ({p['score']}) for image "
            f"{p['image_sha256'][:16]}…  source={p['source']}"
        )
        if chain.get("labelled"):
            given = chain["labelled"]
            root.add(
                f"[bold]labelled[/] {given['label']} by {given['actor']} at {given['at']}"
                + (f": {given['reason']}" if given["reason"] else "")
                + (f" ({len(given['history'])} labels)" if len(given["history"]) > 1 else "")
            )
        node = root.add(f"[bold]model version[/] {mv['tag']}")
    else:
        root = node = Tree(f"[bold]model version[/] {mv['tag']}")
    node.add(f"artifact sha256 {mv['artifact_sha256']}")
    node.add(
        f"model repo commit {mv['repo_commit'][:12]} (git checkout {mv['tag']} && dvc pull train@{mv['workflow']})"
    )
    if chain.get("evaluation"):
        node.add(f"evaluation (frozen test set): {chain['evaluation']}")
    if chain.get("gate_decision"):
        gate = chain["gate_decision"]
        g = node.add(f"gate: {'passed' if gate['passed'] else 'rejected'}")
        for check in gate["checks"]:
            g.add(f"{'✔' if check['passed'] else '✘'} {check['detail']}")
    r = node.add(
        f"[bold]training run[/] #{run['id']}: {run['architecture']}, airflow "
        f"{run['dag_id']} / {run['run_id']}"
    )
    r.add(
        f"code {run['code_sha'][:12] if run['code_sha'] else '?'}; params {run['params']['params']}"
    )
    d = r.add(
        f"[bold]dataset version[/] #{ds['id']}: month {ds['month']} (trained on "
        f"{', '.join(ds['months'])}), {ds['n_train']} images, dvc md5 {ds['train_dvc_md5']}"
    )
    v = chain.get("validation")
    if v:
        d.add(
            f"[bold]validation[/]: {'passed' if v['success'] else 'FAILED'} "
            f"({v['statistics'].get('successful_expectations')}/"
            f"{v['statistics'].get('evaluated_expectations')} expectations), GX run {v['gx_run_id']}, "
            f"Data Docs {v['data_docs']}"
        )
    return root


def render_fleet(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="the fleet")
    for column in (
        "workflow",
        "production",
        "since (UTC)",
        "test acc",
        "macro-F1",
        "last gate",
        "last validation",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["workflow"],
            row["production"] or "—",
            "—" if row["since"] is None else f"{row['since']:%Y-%m-%d %H:%M}",
            _fmt(row["test_accuracy"]),
            _fmt(row["test_macro_f1"]),
            row["last_gate"] or "—",
            row["last_validation"] or "—",
        )
    return table


def render_versions(workflow: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{workflow}: model versions")
    columns = (
        "version",
        "month",
        "test acc",
        "macro-F1",
        "holdout acc",
        "live acc (n)",
        "gate",
        "",
    )
    for column in columns:
        table.add_column(column)
    for row in rows:
        live = row.get("live_accuracy")
        table.add_row(
            row["version"],
            row["month"],
            _fmt(row["test_accuracy"]),
            _fmt(row["test_macro_f1"]),
            _fmt(row["holdout_accuracy"]),
            "" if live is None else f"{_fmt(live)} ({row['labelled']})",
            row["gate"],
            "[bold green]production[/]" if row["production"] else "",
        )
    return table


def render_history(workflow: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{workflow}: production alias history")
    for column in ("when (UTC)", "who", "from → to", "why", "Airflow run"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            f"{row['at']:%Y-%m-%d %H:%M:%S}",
            row["actor"],
            f"{row['from'] or '—'} → {row['to']}",
            row["reason"],
            row["run_id"] or "",
        )
    return table


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def render_applications(apps: list[Any]) -> Table:
    table = Table(title="applications of the endpoint")
    for column in ("name", "grants (workflow=pin)", "admin", "key", "created"):
        table.add_column(column)
    for app in apps:
        key = "revoked" if app.revoked_at else ("yes" if app.has_key else "none issued")
        grants = ", ".join(f"{w}={p}" for w, p in app.grants.items()) or "-"
        created = f"{app.created_at:%Y-%m-%d} by {app.created_by}"
        table.add_row(app.name, grants, "yes" if app.admin else "", key, created)
    return table


def render_trial(result: Any) -> Table:
    """`modelfleet zoo trial`: one row per family, best macro-F1 first, the pick marked."""
    # Short headers and marks: the table fits 80 columns.
    notes = [
        "accuracy, macro-F1: on the holdout; ms/image: serving, in batches",
        f"* chosen, = tied with it (macro-F1 within {result.recommendation.margin} of the best)",
        *(f"{r.family} not tried: {r.error}" for r in result.results if not r.scored),
    ]
    table = Table(
        title=f"zoo trial: {result.workflow} on {', '.join(result.months)} "
        f"({result.n_train} train / {result.n_holdout} holdout images, "
        f"{result.budget_s / 60:.1f} min of training, seed {result.seed})",
        caption="\n".join(notes),
    )
    table.add_column("family", no_wrap=True)
    for column in ("accuracy", "macro-F1", "params", "epochs", "train s", "ms/image"):
        table.add_column(column, justify="right", no_wrap=True)
    chosen = result.recommendation.family
    for row in sorted(result.results, key=lambda r: -(r.macro_f1 if r.scored else -1.0)):
        if not row.scored:
            table.add_row(row.family, *["-"] * 6)
            continue
        mark = (
            "*" if row.family == chosen else "=" if row.family in result.recommendation.tied else ""
        )
        table.add_row(
            f"{row.family} {mark}".rstrip(),
            f"{row.holdout_accuracy:.3f}",
            f"{row.macro_f1:.3f}",
            f"{row.params:,}",
            str(row.epochs),
            f"{row.train_s:.1f}",
            f"{row.serving_ms:.3f}",
        )
    return table


def render_workflows(listing: Any) -> Table:
    """`modelfleet workflow list`: shipped and added workflows, then the archived ones."""
    table = Table(title="workflows")
    for column in ("workflow", "declared in", "source", "architecture", "input", "production"):
        table.add_column(column)
    for row in listing.workflows:
        table.add_row(
            row.name,
            row.declared_in if row.declared_in == "shipped" else Path(row.declared_in).name,
            row.source,
            row.architecture,
            "x".join(map(str, row.input_shape)),
            row.production or ("—" if listing.registry else "(not started)"),
        )
    for event in listing.archived:
        table.add_row(
            f"[dim]{event.workflow}[/]",
            f"[dim]archived {event.at:%Y-%m-%d %H:%M} by {event.actor}[/]",
            f"[dim]{event.detail.get('archived_to', '')}[/]",
            "",
            "",
            "[dim]versions kept[/]",
        )
    return table
