"""Files a page shows: a version's plots (from the model repository at its tag) and
the Data Docs of its validation (from `$MODELFLEET_HOME/data-docs`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from modelfleet.errors import NotFound

PLOTS = ("confusion", "curves")  # keys of model_version.artifacts


def file_at_tag(repo: Path, tag: str, relpath: str, remote: str | None = None) -> bytes:
    """The bytes of `relpath` as the version tagged `tag` holds it.

    Plots are DVC outputs: git holds only their md5 in `dvc.lock`, the bytes are in
    the DVC cache (or a local-folder remote). Files git tracks are read from git.
    """
    lock = _git_show(repo, f"{tag}:dvc.lock")
    if lock is None:
        raise NotFound(f"{tag}: no dvc.lock in the model repository at {repo}")
    md5 = _md5_of(yaml.safe_load(lock) or {}, relpath)
    if md5 is None:
        tracked = _git_show(repo, f"{tag}:{relpath}")
        if tracked is None:
            raise NotFound(f"{tag}: {relpath} is neither in dvc.lock nor in git")
        return tracked
    roots = [repo / ".dvc" / "cache"]
    if remote and "://" not in remote:
        roots.append(Path(remote))
    for root in roots:
        candidate = root / "files" / "md5" / md5[:2] / md5[2:]
        if candidate.is_file():
            return candidate.read_bytes()
    raise NotFound(f"{tag}: {relpath} (md5 {md5}) is in neither the DVC cache nor the remote")


def _md5_of(lock: dict, relpath: str) -> str | None:
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if out.get("path") == relpath and out.get("md5"):
                return str(out["md5"])
    return None


def _git_show(repo: Path, spec: str) -> bytes | None:
    proc = subprocess.run(["git", "show", spec], cwd=repo, capture_output=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def data_docs_relpath(url: str | None, root: Path) -> str | None:
    """A validation's `file://` Data Docs URL as a path under `root`, or None."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("file", ""):
        return None
    path = Path(unquote(parsed.path)).resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def data_docs_file(root: Path, relpath: str) -> Path:
    """A file of the Data Docs site, never outside `root`."""
    base = root.resolve()
    path = (base / relpath).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise NotFound(f"no Data Docs file {relpath!r}")
    return path
