"""The model repository: a git + DVC repo with GTO tags and a DVC remote.

Each pipeline run works in its own git worktree of the repository (a *workspace*,
see `workspace.py`) with the repository's DVC cache shared, so 20 workflows can
snapshot, train and evaluate at once. Only what touches shared git state (worktree
creation, commit, tag, stage assignment) and the remote (push) takes the
repository lock.

`main` holds each workflow's latest registered version (`publish`, see `lockfile.py`),
and each commit's `dvc.yaml` declares stages only for the workflows whose data it
tracks, so a plain `git clone` + `dvc pull` works.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from modelfleet.config import Fleet
from modelfleet.errors import VersioningError
from modelfleet.naming import DATA_SPLITS, Version, data_dir, parent_dir, parse_tag, tag_name
from modelfleet.versioning.code import CODE_FILE, write_code_record
from modelfleet.versioning.commands import CommandResult, run
from modelfleet.versioning.lockfile import merge_lock, workflows_with_data
from modelfleet.versioning.offline_plots import ensure_template
from modelfleet.versioning.render import redeclare, render_dvc_yaml, render_params

STAGES = ("validate", "train", "evaluate")

# Lock depth per repository lock file, per thread: re-entrant for nested calls in one
# thread, exclusive between threads (each opens its own descriptor) and processes.
_HELD = threading.local()


class ModelRepo:
    """The repository itself (`main`) or one workspace of it (`origin` set)."""

    def __init__(self, path: Path, remote: str | Path, origin: ModelRepo | None = None) -> None:
        self.path = path
        self.remote = str(remote)
        self.origin = origin

    @property
    def root(self) -> ModelRepo:
        """The repository whose git directory, tags and DVC cache workspaces share."""
        return self.origin or self

    # -- set-up ------------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / ".dvc").is_dir() and (self.path / ".git").exists()

    def init(self, fleet: Fleet) -> None:
        """Create the repo (idempotent): git, dvc, the remote, rendered files.

        The remote is a local folder, or any URL DVC understands (s3://...), as
        `MODELFLEET_DVC_REMOTE_URL` says.
        """
        if self.exists():
            self.ensure_offline_plots()  # a repository made before the template
            return
        self.path.mkdir(parents=True, exist_ok=True)
        if "://" not in self.remote:
            Path(self.remote).mkdir(parents=True, exist_ok=True)
        self._git("init", "-q", "-b", "main")
        self._dvc("init", "-q")
        self._dvc("config", "core.analytics", "false")
        ensure_template(self.path)  # committed below with the rest
        self._dvc("remote", "add", "-d", "-f", "storage", self.remote)
        self.write_rendered(fleet)
        self._git("add", "-A")
        self._git("commit", "-q", "-m", "Initialise modelfleet model repository")

    def ensure_offline_plots(self) -> None:
        """Commit the `dvc plots show` template with vega inlined (offline_plots.py) on
        `main` where it is missing or stale."""
        with self.locked():
            changed = ensure_template(self.path)
            if changed:
                self._git("add", "--", *changed)
                message = "dvc plots show renders offline: vega inlined in .dvc/offline-plots.html"
                self._git("commit", "-q", "--only", "-m", message, "--", *changed)

    # -- workspaces --------------------------------------------------------
    def add_workspace(
        self, path: Path, ref: str = "main", cache_dir: Path | None = None
    ) -> ModelRepo:
        """A git worktree at `ref` (detached) that shares this repo's DVC cache, or uses
        `cache_dir` (an empty one proves a `dvc pull` fetched from the remote)."""
        workspace = ModelRepo(path, self.remote, origin=self)
        if workspace.exists():
            return workspace
        with self.locked():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._git("worktree", "prune")
            self._git("worktree", "add", "-q", "--detach", str(path), ref)
        cache = cache_dir or self.path / ".dvc" / "cache"
        workspace.set_cache_dir(cache)
        return workspace

    def set_cache_dir(self, cache: Path) -> None:
        """`dvc config --local cache.dir <cache>`, written directly (this runs per run).

        `core.autostage` too: the run commits what DVC changes (`commit_and_tag`), and DVC
        staging it itself drops the "To track the changes with git, run: git add ..."
        hints from the task log.
        """
        config = self.path / ".dvc" / "config.local"
        config.write_text(f"[core]\n    autostage = true\n[cache]\n    dir = {cache}\n")

    def remove_workspace(self, path: Path) -> None:
        with self.locked():
            if path.exists():
                self._git("worktree", "remove", "--force", str(path))
            self._git("worktree", "prune")

    def write_rendered(self, fleet: Fleet) -> None:
        """params.yaml and dvc.yaml from the fleet, code.json from the running code."""
        declared = workflows_with_data(self.path, sorted(fleet.workflows))
        (self.path / "params.yaml").write_text(render_params(fleet))
        (self.path / "dvc.yaml").write_text(render_dvc_yaml(fleet, declared))
        write_code_record(self.path)

    def redeclare_stages(self) -> None:
        """Declare in dvc.yaml the stages of the workflows (of params.yaml) whose data
        this tree tracks; a workflow's first run declares its own once its data is added."""
        params = yaml.safe_load((self.path / "params.yaml").read_text()) or {}
        declared = workflows_with_data(self.path, list(params.get("workflows") or []))
        path = self.path / "dvc.yaml"
        text = path.read_text()
        if (new := redeclare(text, declared)) != text:
            path.write_text(new)

    # -- data and stages -----------------------------------------------------
    def add_data(self, workflow: str, splits: tuple[str, ...]) -> dict[str, str]:
        """`dvc add` the split folders; return each one's DVC md5."""
        paths = [data_dir(workflow, split) for split in splits]
        self._dvc("add", *paths)
        self.redeclare_stages()
        return {
            split: self.dvc_md5(f"{path}.dvc") for split, path in zip(splits, paths, strict=True)
        }

    def add_paths(self, paths: list[str]) -> None:
        """`dvc add` arbitrary repo-relative paths."""
        self._dvc("add", *paths)

    def dvc_md5(self, dvc_file: str) -> str:
        meta = yaml.safe_load((self.path / dvc_file).read_text())
        return meta["outs"][0]["md5"]

    def repro(
        self,
        stage: str,
        *,
        force: bool = False,
        check: bool = True,
        single: bool = False,
        cold: bool = False,
    ) -> CommandResult:
        """`dvc repro <stage>`, streaming its output; `check` raises if it fails.

        `single` leaves the stages upstream unchecked (`--single-item`): for a pipeline
        that has just run them, checking their deps again only costs time. `cold` runs
        it, stage included, in new processes (never the warm runner).
        """
        args = [
            "dvc",
            "repro",
            *(["--force"] if force else []),
            *(["--single-item"] if single else []),
            stage,
        ]
        with self._workspace_lock():
            result = run(args, self.path, stream=True, cold=cold)
        return result.check() if check else result

    def read_json(self, relpath: str) -> dict:
        return json.loads((self.path / relpath).read_text())

    # -- registration -------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the repository lock (re-entrant within one thread, whichever object asks).

        It guards what workspaces share: the git directory's worktree list, tags and
        stage assignments, and pushes to the remote. Other threads and processes wait.
        """
        lock = self.root.path.resolve() / ".git" / "modelfleet.lock"
        held: dict[Path, int] = _HELD.__dict__.setdefault("depth", {})
        if held.get(lock):
            held[lock] += 1
            try:
                yield
            finally:
                held[lock] -= 1
            return
        with lock.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            held[lock] = 1
            try:
                yield
            finally:
                held[lock] = 0
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _workspace_lock(self) -> Iterator[None]:
        """DVC fails fast on a busy workspace: the shared main checkout queues on the
        repository lock; a run's own workspace has nobody to wait for."""
        if self.origin is not None:
            yield
            return
        with self.locked():
            yield

    def commit_and_tag(self, workflow: str, version: Version, message: str) -> str:
        """Commit the workflow's DVC state and create the GTO tag. Returns the commit sha.

        In a workspace the commit lands on its detached HEAD; the tag, created in
        the repository, is what makes it reachable.
        """
        paths = [
            "dvc.yaml",
            "params.yaml",
            "dvc.lock",
            CODE_FILE,
            f"data/{workflow}",
            f"models/{workflow}",
        ]
        with self.locked():
            self._git("add", "--", *[p for p in paths if (self.path / p).exists()])
            self._git("commit", "-q", "--allow-empty", "-m", message)
            commit = self.head()
            self.root._gto(
                "register", workflow, commit, "--version", str(version), "--message", message
            )
        return commit

    def drop_orphan_tag(self, workflow: str, version: Version) -> None:
        """Delete the version's tag if one exists (callers know no version row has it)."""
        tag = tag_name(workflow, version)
        with self.locked():
            if self._git("tag", "--list", tag).stdout.strip():
                print(f"removing tag {tag} left by a failed registration")
                self._git("tag", "-d", tag)

    def pull(self, targets: list[str]) -> None:
        """`dvc pull` the targets (stages or .dvc files) from the remote."""
        self._dvc("pull", *targets)

    def push(self) -> None:
        """`dvc push`. From a workspace at a version's commit: that workflow's files, then
        `main` takes the version (`publish`), once the remote has what it points at."""
        with self.locked():
            workflow = self._workflow_at_head() if self.origin is not None else None
            if workflow is None:
                self._dvc("push")
                return
            self.push_workflow(workflow)
            self.root.publish(workflow, self.head())

    def push_workflow(self, workflow: str) -> None:
        """`dvc push` of the workflow's stages and data in this workspace, without the
        repository lock: the remote stores objects by content, each written to a
        temporary name and renamed, so pushes of several workspaces cannot clash, and
        the shared cache is only read. (It was half of the lock's hold per registration.)"""
        targets = [f"{stage}@{workflow}" for stage in STAGES]
        targets += [f"{data_dir(workflow, split)}.dvc" for split in DATA_SPLITS]
        targets.append(f"{parent_dir(workflow)}.dvc")
        self._dvc("push", *[t for t in targets if "@" in t or (self.path / t).exists()])

    def publish(self, workflow: str, commit: str) -> None:
        """Make `main` hold `workflow` as `commit` has it: its `data/` and `models/` files,
        its `dvc.lock` stages, its stages declared. Other workflows stay as they are."""
        paths = [f"data/{workflow}", f"models/{workflow}"]
        with self.locked():
            self._git("rm", "-r", "-q", "--ignore-unmatch", "--", *paths)
            self._git("checkout", commit, "--", *paths)
            lock = self.path / "dvc.lock"
            theirs = self._git("show", f"{commit}:dvc.lock").stdout
            lock.write_text(
                merge_lock(lock.read_text() if lock.exists() else None, theirs, workflow)
            )
            self.redeclare_stages()
            changed = ["dvc.lock", "dvc.yaml", *paths]
            self._git("add", "--", "dvc.lock", "dvc.yaml")
            if run(["git", "diff", "--cached", "--quiet", "--", *changed], self.path).ok:
                return  # a retry: main holds this already
            message = f"{workflow}: main holds {self._describe(commit)}"
            self._git("commit", "-q", "-m", message, "--", *changed)

    def _workflow_at_head(self) -> str | None:
        """The workflow whose version tag points at HEAD, if one does."""
        for tag in self._git("tag", "--points-at", "HEAD").stdout.split():
            if "#" not in tag and "@v" in tag:  # not a GTO stage tag (<wf>#<stage>#<n>)
                return parse_tag(tag)[0]
        return None

    def _describe(self, commit: str) -> str:
        tags = self._git("tag", "--points-at", commit, "--list", "*@v*").stdout.split()
        return tags[0] if tags else commit[:10]

    def assign(
        self, workflow: str, version: Version, stage: str, message: str | None = None
    ) -> None:
        """`gto assign`; `message` annotates the stage tag (who moved the alias, and why)."""
        # --force: a rollback re-assigns a version that held the stage before, which
        # GTO otherwise refuses ("already in stage").
        args = ["assign", workflow, "--version", str(version), "--stage", stage, "--force"]
        with self.root.locked():
            self._after_last_stage_tag(workflow, stage)
            self.root._gto(*args, *(["--message", message] if message else []))

    def _after_last_stage_tag(self, workflow: str, stage: str) -> None:
        """Wait, if need be, for the second after the stage's latest tag.

        GTO orders a stage's assignments by tag date, whole seconds: a rollback and a
        re-promotion within one second would tie, and `gto show` could name the older.
        """
        latest = self.root._git(
            "for-each-ref",
            f"refs/tags/{workflow}#{stage}#*",
            "--sort=-taggerdate",
            "--count=1",
            "--format=%(taggerdate:unix)",
        ).stdout.strip()
        if latest and (wait := int(latest) + 1 - time.time()) > 0:
            time.sleep(wait)

    def tags(self, workflow: str = "*") -> list[str]:
        """Version tags `<wf>@v...` (of one workflow, or of all)."""
        out = self.root._git("tag", "--list", f"{workflow}@v*").stdout
        return sorted(out.split())

    def head(self) -> str:
        return self._git("rev-parse", "HEAD").stdout.strip()

    def tag_commit(self, workflow: str, version: Version) -> str:
        return self._git("rev-list", "-n", "1", tag_name(workflow, version)).stdout.strip()

    def gto_show(self) -> dict[str, dict]:
        """`gto show --json`: artifact -> {"version": latest, "stage": {stage: version}}."""
        result = self.root._gto("show", "--json")
        return json.loads(result.stdout or "{}")

    # -- helpers ------------------------------------------------------------
    def _git(self, *args: str) -> CommandResult:
        return run(["git", *args], self.path).check()

    def _dvc(self, *args: str) -> CommandResult:
        with self._workspace_lock():
            return run(["dvc", *args], self.path).check()

    def _gto(self, *args: str) -> CommandResult:
        with self.locked():
            return run(["gto", *args, "--repo", str(self.root.path)], self.root.path).check()


def open_repo() -> ModelRepo:
    from modelfleet.settings import get_settings

    settings = get_settings()
    repo = ModelRepo(settings.repo, settings.dvc_remote)
    if not repo.exists():
        raise VersioningError(f"no model repository at {repo.path}; run `modelfleet up` first")
    return repo
