"""Change the user's workflows all or nothing: the file in workflows.d, the model
repository's rendered files, and the registry (grants, the workflow's events).

`apply` takes a lock for workflows.d (two `workflow add`s never render over each other;
the lock file is `run/workflows.d.lock`, not in the user's folder), then the repository
lock, and runs the change in this order:

1. the registry change, in a transaction not yet committed;
2. the workflows.d change (an atomic write or rename), which returns its undo;
3. params.yaml and dvc.yaml rendered and committed in the repository, with an undo;
4. the registry transaction committed.

An error at any step undoes the steps before it, so a failed change leaves no file in
workflows.d, no commit in the repository and no row in the registry. Before the platform
was first started there is no repository and no registry: only the file changes, and
`modelfleet up` renders the repository and grants the platform's applications.

What follows the file by itself, within a minute and with no restart: the dag-processor's
next parse (`retrain__<wf>` comes or goes), the endpoint's registry watcher and the
stream classifier, which load the fleet again as they poll.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from modelfleet.config import Fleet
from modelfleet.registry import db
from modelfleet.settings import Settings
from modelfleet.versioning.fleet_render import commit_rendered
from modelfleet.versioning.repo import ModelRepo

Undo = Callable[[], None]
Say = Callable[[str], None]
LOCK_FILE = "workflows.d.lock"


@dataclass(frozen=True)
class FleetChange:
    """One change of the user's workflows. Each callable runs under the locks."""

    message: str  # the repository commit's message
    fleet_after: Callable[[], Fleet]  # the fleet with the change (validates it)
    change_files: Callable[[], Undo]  # the workflows.d change; returns its undo
    change_registry: Callable[[Session, Fleet], None]  # within the open transaction


@dataclass(frozen=True)
class Applied:
    fleet: Fleet
    rendered: bool  # the repository existed and was rendered
    registered: bool  # the registry was changed


def platform_started(settings: Settings) -> bool:
    """`modelfleet up` ran here once: the model repository (and the registry) exist."""
    return ModelRepo(settings.repo, settings.dvc_remote).exists()


def apply(settings: Settings, change: FleetChange, say: Say) -> Applied:
    """Make the change everywhere, or nowhere (see the module docstring)."""
    repo = ModelRepo(settings.repo, settings.dvc_remote)
    with ExitStack() as stack:
        stack.enter_context(workflows_d_lock(settings.run_dir))
        started = repo.exists()
        if started:
            stack.enter_context(repo.locked())
        fleet = change.fleet_after()
        if not started:
            say(
                f"no model repository at {settings.repo} yet (the platform was never "
                "started): only workflows.d changes; `modelfleet up` renders the "
                "repository and grants the platform's applications from the fleet as it is"
            )
            change.change_files()
            return Applied(fleet, rendered=False, registered=False)
        url = db.database_url()
        db.migrate(url)  # as `up` does: the workflow_event table may be new to this home
        with Session(db.engine(url)) as session:
            session.begin()
            change.change_registry(session, fleet)
            session.flush()
            undo_files = change.change_files()
            try:
                undo_repo = commit_rendered(repo, fleet, change.message)
                try:
                    session.commit()
                except BaseException:
                    undo_repo()
                    raise
            except BaseException:
                undo_files()
                raise
        say(f"rendered params.yaml and dvc.yaml in {settings.repo} ({change.message})")
        return Applied(fleet, rendered=True, registered=True)


@contextmanager
def workflows_d_lock(run_dir: Path) -> Iterator[None]:
    """Exclusive between processes changing workflows.d (add, remove)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / LOCK_FILE).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
