"""`modelfleet doctor`: do the model repository, Postgres and the serving folder agree?

Postgres is authoritative for versions and the production alias; the GTO tags and
stages in the model repository mirror it, and every production version must be
exported for serving. Each disagreement is one line naming both sides. An alias that
moved seconds ago and whose GTO stage has not followed yet is "mirror pending", not a
disagreement: the stage mirror (`stage_mirror`) is on its way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from modelfleet.errors import VersioningError
from modelfleet.naming import Version, parse_tag, serving_dir
from modelfleet.registry.store import versions
from modelfleet.registry.store.workflows import workflow_names
from modelfleet.settings import Settings
from modelfleet.versioning import stage_mirror
from modelfleet.versioning.repo import ModelRepo


def tagged_versions(repo: ModelRepo) -> dict[str, set[str]]:
    tagged: dict[str, set[str]] = {}
    for tag in repo.tags():
        if "#" in tag:  # GTO stage-assignment tags: <wf>#<stage>#<n>
            continue
        try:
            workflow, version = parse_tag(tag)
        except VersioningError:  # e.g. GTO's deprecation tags <wf>@vX.Y.Z!
            continue
        tagged.setdefault(workflow, set()).add(str(version))
    return tagged


@dataclass
class Diagnosis:
    """What `doctor` found: disagreements, and alias moves the stage mirror has yet to
    copy into GTO (not a disagreement while younger than `stage_mirror.GRACE_S`)."""

    disagreements: list[str] = field(default_factory=list)
    mirror_pending: list[str] = field(default_factory=list)


def diagnose(settings: Settings, session: Session, repo: ModelRepo) -> list[str]:
    """The disagreements alone (what `doctor` fails on)."""
    return examine(settings, session, repo).disagreements


def examine(
    settings: Settings, session: Session, repo: ModelRepo, now: datetime | None = None
) -> Diagnosis:
    """Compare Postgres with the GTO tags and stages and the serving folder."""
    now = now or datetime.now(UTC)
    shown = repo.gto_show()
    tagged = tagged_versions(repo)
    registered = {
        name: versions.list_versions(session, name)
        for name in sorted(set(tagged) | set(shown) | set(workflow_names(session)))
    }
    found = Diagnosis()
    problems = found.disagreements
    for workflow, rows in registered.items():
        in_db = {v.version for v in rows}
        in_git = tagged.get(workflow, set())
        for version in sorted(in_db - in_git):
            problems.append(f"{workflow} {version}: in Postgres, but no git tag")
        for version in sorted(in_git - in_db):
            problems.append(f"{workflow} {version}: git tag, but not in Postgres")
        if rows:
            latest = str(max(Version.parse(v) for v in in_db))
            gto_latest = shown.get(workflow, {}).get("version")
            if gto_latest != latest:
                problems.append(f"{workflow}: latest is {latest} in Postgres, {gto_latest} in GTO")
        for stage in stage_mirror.STAGES:
            gto_stage = (shown.get(workflow, {}).get("stage") or {}).get(stage)
            _compare_stage(session, found, workflow, stage, gto_stage, now)
        production = versions.resolve_alias(session, workflow)
        if production is not None:
            exported = serving_dir(
                settings.serving_root, workflow, Version.parse(production.version)
            )
            if not (exported / "saved_model.pb").is_file():
                problems.append(f"{workflow} {production.version}: production, not at {exported}")
    return found


def _compare_stage(
    session: Session,
    found: Diagnosis,
    workflow: str,
    stage: str,
    gto_stage: str | None,
    now: datetime,
) -> None:
    held = versions.resolve_alias(session, workflow, stage)
    db_stage = None if held is None else held.version
    if db_stage == gto_stage:
        return
    history = versions.alias_history(session, workflow, stage) if held else []
    moved = history[-1] if history and history[-1].to_version == db_stage else None
    if moved is not None and (age := (now - moved.at).total_seconds()) < stage_mirror.GRACE_S:
        found.mirror_pending.append(
            f"{workflow}: {stage} is {db_stage} in Postgres (moved {age:.0f}s ago by "
            f"{moved.actor}), {gto_stage} in GTO: mirror pending"
        )
    else:
        found.disagreements.append(
            f"{workflow}: {stage} is {db_stage} in Postgres, {gto_stage} in GTO"
        )
