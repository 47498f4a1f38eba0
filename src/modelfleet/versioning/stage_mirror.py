"""Mirror the Postgres aliases into GTO stages of the model repository.

Postgres decides what serves; the GTO stage tags (`<wf>#<stage>#<n>`) are the git-side
record of it. Two paths write them, both through this module:

- processes that own the repository (a pipeline's register and deploy, the CLI) assign
  one stage at once (`assign_now`), so the tag exists when they return;
- the platform's stage mirror (`StageMirror.tick`, looped by the warm runner, see
  `modelfleet.warm.mirror`) follows every other alias move, notably the endpoint's admin
  routes, which write Postgres only.

Both hold the repository lock and read Postgres inside it, so whichever writes last
writes the alias as it is *now*. The mirror assigns only where GTO differs: a pass that
dies half-way is finished by the next one, and a pass that runs twice assigns nothing
twice. Each tag's message keeps who moved the alias and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from modelfleet.errors import VersioningError
from modelfleet.naming import ALIASES, Version
from modelfleet.registry.entities import AliasEvent
from modelfleet.registry.store import versions
from modelfleet.versioning.repo import ModelRepo

log = logging.getLogger("modelfleet.stage_mirror")

STAGES = ALIASES  # the Postgres aliases that GTO stages mirror
POLL_S = 1.0  # how often the mirror looks at Postgres: a move is mirrored well within 10 s
# `modelfleet doctor` calls a disagreement younger than this a pending mirror.
GRACE_S = 30.0
RETRY_MIN_S, RETRY_MAX_S = 2.0, 60.0  # a stage whose assignment fails is retried this often

Key = tuple[str, str]  # (workflow, stage)


class AliasReader(Protocol):
    """What the mirror reads from the source of truth."""

    def current(self) -> dict[Key, str]:
        """The version each (workflow, stage) alias points at now."""
        ...

    def last_move(self, workflow: str, stage: str) -> AliasEvent | None:
        """The alias's latest move (who, why), for the tag message."""
        ...


class PostgresAliases:
    """The lineage database's `alias` and `alias_event` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def current(self) -> dict[Key, str]:
        with Session(self.engine) as session:
            return {
                (workflow, stage): held.version
                for stage in STAGES
                for workflow, held in versions.all_aliases(session, stage).items()
            }

    def last_move(self, workflow: str, stage: str) -> AliasEvent | None:
        with Session(self.engine) as session:
            history = versions.alias_history(session, workflow, stage)
        return history[-1] if history else None


def tag_message(workflow: str, stage: str, version: str, move: AliasEvent | None) -> str:
    """The GTO tag's message: the alias move it mirrors, with its actor and reason."""
    if move is None or move.to_version != version:
        return f"{workflow} {stage}: {version} (mirrored from Postgres)"
    return (
        f"{workflow} {stage}: {move.from_version or 'none'} -> {version} "
        f"by {move.actor}: {move.reason}"
    )


def gto_stages(repo: ModelRepo) -> dict[Key, str]:
    """The version each GTO stage holds (`gto show`)."""
    return {
        (workflow, stage): version
        for workflow, shown in repo.gto_show().items()
        for stage, version in (shown.get("stage") or {}).items()
        if version
    }


def assign_now(repo: ModelRepo, aliases: AliasReader, workflow: str, stage: str) -> None:
    """Assign the GTO stage to what the alias holds now (for a process that has just
    moved it). Unconditional, as a release always was: at worst a stage the mirror
    already assigned gets a second tag for the same version."""
    with repo.locked():
        version = aliases.current().get((workflow, stage))
        if version is not None:
            message = tag_message(workflow, stage, version, aliases.last_move(workflow, stage))
            repo.assign(workflow, Version.parse(version), stage, message=message)


@dataclass
class MirrorPass:
    """What one pass saw and did."""

    in_postgres: dict[Key, str]
    assigned: dict[Key, str] = field(default_factory=dict)
    failed: dict[Key, str] = field(default_factory=dict)  # key -> why


def mirror(repo: ModelRepo, aliases: AliasReader, keys: Iterable[Key] | None = None) -> MirrorPass:
    """Assign every stage (or those of `keys`) whose GTO version differs from Postgres.

    Under the repository lock, Postgres read after the lock is taken: a release that
    assigns at the same time either went first (and GTO already agrees) or waits and
    assigns the newer alias itself. One stage that cannot be assigned (its version has
    no tag, say) does not hold up the others.
    """
    with repo.locked():
        in_postgres = aliases.current()
        done = MirrorPass(in_postgres)
        wanted = sorted(in_postgres if keys is None else set(keys) & set(in_postgres))
        if not wanted:
            return done
        in_git = gto_stages(repo)
        for workflow, stage in wanted:
            version = in_postgres[workflow, stage]
            if in_git.get((workflow, stage)) == version:
                continue
            message = tag_message(workflow, stage, version, aliases.last_move(workflow, stage))
            try:
                repo.assign(workflow, Version.parse(version), stage, message=message)
            except VersioningError as exc:
                done.failed[workflow, stage] = str(exc)
                continue
            done.assigned[workflow, stage] = version
            log.info("stage mirror: %s", message)
    return done


class StageMirror:
    """Follows the aliases: each `tick` mirrors what moved since the stages last agreed.

    Only memory is kept between ticks: a new mirror (after a crash or a restart)
    compares every stage once, through `gto show`, and goes on from there.
    """

    def __init__(self, repo: ModelRepo, aliases: AliasReader) -> None:
        self.repo = repo
        self.aliases = aliases
        self.agreed: dict[Key, str] = {}  # what GTO held, as of the last pass that looked
        self.retry: dict[Key, tuple[float, float]] = {}  # failed key -> (when, backoff)

    def tick(self, now: float | None = None) -> MirrorPass | None:
        """One look at Postgres (a small query); a pass only where an alias moved."""
        now = time.monotonic() if now is None else now
        current = self.aliases.current()
        due = [
            key
            for key, version in current.items()
            if self.agreed.get(key) != version and self.retry.get(key, (0.0, 0.0))[0] <= now
        ]
        if not due:
            return None
        done = mirror(self.repo, self.aliases, due)
        for key in due:
            if key in done.failed:
                _, last = self.retry.get(key, (0.0, 0.0))
                backoff = min(RETRY_MAX_S, max(RETRY_MIN_S, 2 * last))
                self.retry[key] = (now + backoff, backoff)
                log.warning("stage mirror: %s %s not mirrored: %s", *key, done.failed[key])
            elif key in done.in_postgres:
                self.agreed[key] = done.in_postgres[key]
                self.retry.pop(key, None)
        return done
