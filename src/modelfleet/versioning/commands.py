"""Run git, dvc and gto as subprocesses. The caller decides what failure means."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from modelfleet.errors import VersioningError

# dvc, gto and the stage's `python` come from the same environment as this process.
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class CommandResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> CommandResult:
        """Raise VersioningError with the command's output unless it succeeded."""
        if not self.ok:
            tail = (self.stderr or self.stdout).strip()[-2000:]
            raise VersioningError(f"`{' '.join(self.args)}` failed ({self.returncode}): {tail}")
        return self


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["GTO_NO_ANALYTICS"] = "1"
    env.setdefault("GIT_AUTHOR_NAME", "modelfleet")
    env.setdefault("GIT_AUTHOR_EMAIL", "modelfleet@localhost")
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    return env


def run(args: list[str], cwd: Path, *, stream: bool = False) -> CommandResult:
    """Run `args` in `cwd`. With `stream`, output also goes to our stdout as it comes
    (long steps such as `dvc repro` show progress in the Airflow task log)."""
    exe = args[0]
    if exe in ("dvc", "gto", "python"):
        exe = str(BIN / exe)
    command = [exe, *args[1:]]
    if not stream:
        proc = subprocess.run(command, cwd=cwd, env=tool_env(), capture_output=True, text=True)
        return CommandResult(args, proc.returncode, proc.stdout, proc.stderr)
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    return CommandResult(args, proc.returncode, "".join(lines), "")


def code_sha() -> str:
    """The modelfleet checkout's commit (recorded on every lineage row)."""
    from modelfleet.settings import CHECKOUT

    result = run(["git", "rev-parse", "HEAD"], CHECKOUT)
    return result.stdout.strip() if result.ok else "unknown"
