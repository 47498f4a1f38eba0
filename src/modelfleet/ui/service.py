"""What each page and API route shows or does, as plain data. Pages and the JSON API
both call these; the store functions underneath are the CLI's."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from modelfleet import releases
from modelfleet.config import load_fleet
from modelfleet.errors import ConfigError, InvalidGrant, NotFound, RegistryError, VersioningError
from modelfleet.naming import parse_tag, retrain_dag_id
from modelfleet.registry import db
from modelfleet.registry.store import applications, lineage, reports, versions
from modelfleet.registry.store.workflows import workflow_names
from modelfleet.settings import get_settings
from modelfleet.ui.access import Access, readable, require_read, require_release
from modelfleet.ui.airflow_runs import DagRunInfo, LatestRuns
from modelfleet.ui.graph import lineage_graph
from modelfleet.ui.links import Links

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
TREND_METRICS = ("test accuracy", "test macro-F1", "holdout accuracy")


def configured_workflows() -> list[str]:
    """The fleet file's workflows; none when it cannot be read (the store still has its own)."""
    try:
        return list(load_fleet(get_settings().config_file).workflows)
    except ConfigError:
        return []


def fleet(session: Session, access: Access, dag_runs: LatestRuns, links: Links) -> list[dict]:
    """Every workflow the user may read: production, since, metrics, last run and gate.
    A workflow that never ran says how to start it (`never_ran`, `retrain_command`)."""
    names = set(configured_workflows()) | set(workflow_names(session))
    visible = readable(access, sorted(names))
    last_runs = dag_runs([retrain_dag_id(w) for w in visible])
    rows = []
    for row in reports.fleet_summary(session, visible):
        workflow = row["workflow"]
        if workflow not in visible:
            continue
        run = last_runs.get(retrain_dag_id(workflow))
        gate = reports.latest_gate(session, workflow)
        rows.append(
            {
                **row,
                "dag_id": retrain_dag_id(workflow),
                "last_run": _last_run(run, links),
                "gate": _with_run_link(gate, links),
                "never_ran": run is None
                and gate is None
                and row["production"] is None
                and row["last_validation"] is None,
                "retrain_command": f"modelfleet retrain {workflow}",
                "urls": {
                    "workflow": links.workflow(workflow),
                    "dag": links.dag(retrain_dag_id(workflow)),
                    "production": row["production"]
                    and links.lineage(f"{workflow}@{row['production']}"),
                },
            }
        )
    return rows


def _last_run(run: DagRunInfo | None, links: Links) -> dict[str, Any] | None:
    """The latest Airflow run of a workflow's retrain DAG, with its link."""
    if run is None:
        return None
    url = links.dag_run(run.dag_id, run.run_id)
    return {"run_id": run.run_id, "state": run.state, "run_after": run.run_after, "url": url}


def _with_run_link(gate: dict[str, Any] | None, links: Links) -> dict[str, Any] | None:
    """The latest gate decision plus the link to the Airflow run that made it."""
    return gate and {**gate, "url": links.dag_run(gate["dag_id"], gate["run_id"])}


def workflow(
    session: Session, access: Access, name: str, links: Links, selected: str | None = None
) -> dict[str, Any]:
    """A workflow's versions, alias history, metric trend, selected version and actions."""
    require_read(access, name)
    details = reports.version_details(session, name)
    if not details and name not in configured_workflows():
        raise NotFound(f"no workflow {name!r}")
    production = versions.resolve_alias(session, name)
    by_version = {d["version"]: d for d in details}
    if selected is not None and selected not in by_version:
        raise NotFound(f"workflow {name!r} has no version {selected}")
    chosen = by_version.get(
        selected or (production.version if production else ""), details[-1] if details else None
    )
    for d in details:
        d["urls"] = {
            "lineage": links.lineage(d["tag"]),
            "select": links.workflow(name, d["version"]),
            "run": links.dag_run(d["dag_id"], d["run_id"]),
            "data_docs": links.data_docs(d["data_docs"]),
            **{kind: links.plot(name, d["version"], kind) for kind in ("confusion", "curves")},
        }
    history = reports.alias_events(session, name)
    history.reverse()  # newest first
    pinned = [
        {"application": app.name, "pin": app.grants[name]}
        for app in applications.list_applications(session)
        if name in app.grants and app.revoked_at is None
    ]
    try:
        default_target: str | None = releases.rollback_target(session, name, None)
    except RegistryError:
        default_target = None
    return {
        "workflow": name,
        "dag_id": retrain_dag_id(name),
        "production": None if production is None else production.version,
        "versions": details,
        "selected": chosen,
        "history": history,
        "trend": [
            (
                d["version"],
                {
                    "test accuracy": d["metrics"].get("test", {}).get("accuracy"),
                    "test macro-F1": d["metrics"].get("test", {}).get("macro_f1"),
                    "holdout accuracy": d["metrics"].get("holdout", {}).get("accuracy"),
                },
            )
            for d in details
        ],
        "applications": pinned,
        "can_release": access.can_release(name),
        "rollback_default": default_target,
        "urls": {"dag": links.dag(retrain_dag_id(name)), "fleet": links.fleet()},
    }


def lineage_of(session: Session, access: Access, ref: str, links: Links) -> dict[str, Any]:
    """The chain behind `ref` (an image's sha256, or a tag `wf@vX.Y.Z`) and its graph."""
    ref = ref.strip()
    if _SHA256.match(ref.lower()):
        chain = lineage.prediction_lineage(session, ref.lower())
    else:
        try:
            workflow, version = parse_tag(ref)
        except VersioningError:
            raise NotFound(
                f"{ref!r} is neither an image sha256 nor a version tag like digits@v1.0.0"
            ) from None
        chain = lineage.version_lineage(session, workflow, str(version))
    mv = chain["model_version"]
    require_read(access, mv["workflow"])
    runs = lineage.lineage_runs(session, mv["workflow"], mv["version"])
    return {"ref": ref, "chain": chain, "graph": lineage_graph(chain, runs, links)}


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise RegistryError("a reason is required")
    return text


def actor(access: Access) -> str:
    return f"airflow:{access.user}"


def rollback(access: Access, workflow: str, to: str | None, reason: str | None) -> dict[str, str]:
    """Move production back (to `to`, or to the version the current one replaced)."""
    require_release(access, workflow)
    previous, target = releases.rollback(
        get_settings(), workflow, to=to or None, actor=actor(access), reason=_reason(reason)
    )
    return {"workflow": workflow, "from": previous, "to": target, "actor": actor(access)}


def pin(
    access: Access, workflow: str, application: str, to: str, reason: str | None
) -> dict[str, str]:
    """Pin an application that already holds a grant for `workflow` to a version or alias."""
    require_release(access, workflow)
    text = _reason(reason)
    with Session(db.engine()) as session, session.begin():
        app = applications.get_application(session, application)
        if workflow not in app.grants or app.revoked_at is not None:
            # Pinning here never grants access: that stays with `modelfleet apps grant`.
            raise RegistryError(f"application {application!r} holds no grant for {workflow!r}")
        try:
            applications.set_grant(
                session, application, workflow, to, actor=actor(access), reason=text
            )
        except InvalidGrant as exc:  # on a workflow's page, a pin it cannot take is missing
            raise NotFound(str(exc)) from None
    return {"workflow": workflow, "application": application, "pin": to, "actor": actor(access)}
