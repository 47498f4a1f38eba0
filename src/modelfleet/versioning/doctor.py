"""`modelfleet doctor`: do the model repository, Postgres and the serving folder agree?

Postgres is authoritative for versions and the production alias; the GTO tags and
stages in the model repository mirror it, and every production version must be
exported for serving. Each disagreement is one line naming both sides.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from modelfleet.errors import VersioningError
from modelfleet.naming import ALIASES, Version, parse_tag, serving_dir
from modelfleet.registry.store import versions
from modelfleet.registry.store.workflows import workflow_names
from modelfleet.settings import Settings
from modelfleet.versioning.repo import ModelRepo

STAGES = ALIASES  # Postgres aliases mirrored as GTO stages


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


def diagnose(settings: Settings, session: Session, repo: ModelRepo) -> list[str]:
    shown = repo.gto_show()
    tagged = tagged_versions(repo)
    registered = {
        name: versions.list_versions(session, name)
        for name in sorted(set(tagged) | set(shown) | set(workflow_names(session)))
    }
    problems = []
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
        for stage in STAGES:
            held = versions.resolve_alias(session, workflow, stage)
            db_stage = None if held is None else held.version
            gto_stage = (shown.get(workflow, {}).get("stage") or {}).get(stage)
            if db_stage != gto_stage:
                problems.append(
                    f"{workflow}: {stage} is {db_stage} in Postgres, {gto_stage} in GTO"
                )
        production = versions.resolve_alias(session, workflow)
        if production is not None:
            exported = serving_dir(
                settings.serving_root, workflow, Version.parse(production.version)
            )
            if not (exported / "saved_model.pb").is_file():
                problems.append(f"{workflow} {production.version}: production, not at {exported}")
    return problems
