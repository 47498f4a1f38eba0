"""The stage mirror on a real git repository with real `gto` commands; the aliases it
follows come from a dict standing in for Postgres (tests/integration/test_stage_mirror.py
runs it against the real database and endpoint)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelfleet.registry.entities import AliasEvent
from modelfleet.versioning import stage_mirror
from modelfleet.versioning.commands import run
from modelfleet.versioning.repo import ModelRepo
from modelfleet.versioning.stage_mirror import Key, StageMirror, assign_now, mirror, tag_message


class Aliases:
    """What Postgres would say: each alias's version and its latest move."""

    def __init__(self) -> None:
        self.held: dict[Key, str] = {}
        self.moves: dict[Key, AliasEvent] = {}
        self.reads = 0

    def move(self, workflow: str, stage: str, version: str, actor: str, reason: str) -> None:
        before = self.held.get((workflow, stage))
        self.held[workflow, stage] = version
        self.moves[workflow, stage] = AliasEvent(
            workflow, stage, before, version, actor, reason, None, datetime.now(UTC)
        )

    def current(self) -> dict[Key, str]:
        self.reads += 1
        return dict(self.held)

    def last_move(self, workflow: str, stage: str) -> AliasEvent | None:
        return self.moves.get((workflow, stage))


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo).check().stdout


def stage_tags(repo: Path) -> dict[str, str]:
    """Each GTO stage tag and its message."""
    out = git(repo, "for-each-ref", "refs/tags/*#*", "--format=%(refname:short)%09%(contents)")
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


@pytest.fixture
def repo(tmp_path: Path) -> ModelRepo:
    """A git repository where digits and welds each have v1.0.0 and v1.1.0 registered
    (annotated version tags, as `gto register` makes them)."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for month in ("2026-01", "2026-02"):
        git(path, "commit", "-q", "--allow-empty", "-m", month)
        minor = month[-1:]
        for workflow in ("digits", "welds"):
            version = f"v1.{int(minor) - 1}.0"
            tag = f"{workflow}@{version}"
            git(path, "tag", "-a", tag, "-m", f"Registering artifact {workflow} version {version}")
    return ModelRepo(path, tmp_path / "remote")


def gto_production(repo: ModelRepo) -> dict[str, str | None]:
    shown = json.loads(run(["gto", "show", "--json"], repo.path).check().stdout)
    return {wf: (info.get("stage") or {}).get("production") for wf, info in shown.items()}


def test_a_moved_alias_becomes_a_stage_tag_that_names_who_and_why(repo: ModelRepo) -> None:
    aliases = Aliases()
    aliases.move("digits", "production", "v1.1.0", "pipeline", "release")
    mirror_ = StageMirror(repo, aliases)

    first = mirror_.tick()
    assert first is not None and first.assigned == {("digits", "production"): "v1.1.0"}
    aliases.move("digits", "production", "v1.0.0", "admin", "rollback: bad labels")
    second = mirror_.tick()

    assert second is not None and second.assigned == {("digits", "production"): "v1.0.0"}
    assert gto_production(repo)["digits"] == "v1.0.0"
    messages = stage_tags(repo.path)
    assert len(messages) == 2
    assert "digits production: v1.1.0 -> v1.0.0 by admin: rollback: bad labels" in "".join(
        messages.values()
    )
    # Nothing moved since: a tick reads Postgres and runs no gto at all.
    reads = aliases.reads
    assert mirror_.tick() is None
    assert aliases.reads == reads + 1 and len(stage_tags(repo.path)) == 2


def test_a_new_mirror_after_a_crash_assigns_only_what_gto_lacks(repo: ModelRepo) -> None:
    aliases = Aliases()
    aliases.move("digits", "production", "v1.1.0", "admin", "promote")
    aliases.move("welds", "production", "v1.0.0", "admin", "promote")
    # The mirror that died had assigned digits, not welds.
    mirror(repo, aliases, [("digits", "production")])
    assert len(stage_tags(repo.path)) == 1

    done = StageMirror(repo, aliases).tick()

    assert done is not None and done.assigned == {("welds", "production"): "v1.0.0"}
    assert gto_production(repo) == {"digits": "v1.1.0", "welds": "v1.0.0"}
    # And a mirror with nothing left to do assigns nothing twice.
    again = StageMirror(repo, aliases).tick()
    assert again is not None and again.assigned == {} and len(stage_tags(repo.path)) == 2


def test_a_stage_that_fails_is_retried_later_without_holding_up_the_others(
    repo: ModelRepo,
) -> None:
    aliases = Aliases()
    aliases.move("digits", "production", "v1.2.0", "admin", "no such tag yet")
    aliases.move("welds", "production", "v1.1.0", "admin", "promote")
    mirror_ = StageMirror(repo, aliases)

    done = mirror_.tick(now=100.0)

    assert done is not None and done.assigned == {("welds", "production"): "v1.1.0"}
    assert list(done.failed) == [("digits", "production")]
    assert mirror_.tick(now=100.5) is None  # backing off: no gto until the retry is due
    git(repo.path, "commit", "-q", "--allow-empty", "-m", "2026-03")
    git(repo.path, "tag", "-a", "digits@v1.2.0", "-m", "Registering artifact digits v1.2.0")
    retried = mirror_.tick(now=100.0 + stage_mirror.RETRY_MIN_S)
    assert retried is not None and retried.assigned == {("digits", "production"): "v1.2.0"}
    assert gto_production(repo) == {"digits": "v1.2.0", "welds": "v1.1.0"}


def test_assign_now_assigns_what_the_alias_holds_when_it_runs(repo: ModelRepo) -> None:
    aliases = Aliases()
    aliases.move("digits", "candidate", "v1.0.0", "pipeline", "registered")
    aliases.move("digits", "candidate", "v1.1.0", "pipeline", "registered")

    assign_now(repo, aliases, "digits", "candidate")
    assign_now(repo, aliases, "welds", "candidate")  # no alias: nothing to mirror

    assert list(stage_tags(repo.path).values()) == [
        "digits candidate: v1.0.0 -> v1.1.0 by pipeline: registered"
    ]


def test_tag_message_names_the_move_or_says_where_it_came_from() -> None:
    move = AliasEvent(
        "d", "production", None, "v1.0.0", "cli:ann", "first", None, datetime.now(UTC)
    )
    assert tag_message("d", "production", "v1.0.0", move) == (
        "d production: none -> v1.0.0 by cli:ann: first"
    )
    assert tag_message("d", "production", "v2.0.0", move) == (
        "d production: v2.0.0 (mirrored from Postgres)"
    )


def test_moves_within_one_second_keep_their_order_in_gto(repo: ModelRepo) -> None:
    """GTO orders a stage's tags by their date in whole seconds: a rollback and the
    promotion straight after it must not tie, or `gto show` may name the older."""
    aliases = Aliases()
    for version in ("v1.1.0", "v1.0.0", "v1.1.0", "v1.0.0"):
        aliases.move("digits", "production", version, "cli", "quick succession")
        assign_now(repo, aliases, "digits", "production")

    dates = git(
        repo.path, "for-each-ref", "refs/tags/digits#production#*", "--format=%(taggerdate:unix)"
    ).split()
    assert len(dates) == 4 and len(set(dates)) == 4
    assert gto_production(repo)["digits"] == "v1.0.0"
