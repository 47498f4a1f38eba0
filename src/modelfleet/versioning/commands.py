"""Run git, dvc, gto and stage commands. The caller decides what failure means.

`dvc`, `gto` and `python -m modelfleet.training.stage` go to the warm runner where the
platform runs one (`modelfleet.warm`), and run as new processes otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from modelfleet.errors import VersioningError
from modelfleet.host import warm_client as warm
from modelfleet.settings import WARM_SOCKET_ENV

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


def run(args: list[str], cwd: Path, *, stream: bool = False, cold: bool = False) -> CommandResult:
    """Run `args` in `cwd`. With `stream`, output also goes to our stdout as it comes
    (long steps such as `dvc repro` show progress in the Airflow task log). `cold`
    keeps the command and whatever it starts away from the warm runner."""
    socket_path = None if cold else warm.socket_path()
    if socket_path and warm.accepts(args):
        try:
            return _run_warm(args, cwd, socket_path, stream=stream)
        except warm.Unavailable as exc:
            print(f"{exc}; starting a new process", file=sys.stderr)
    exe = args[0]
    if exe in ("dvc", "gto", "python"):
        exe = str(BIN / exe)
    command = [exe, *args[1:]]
    env = tool_env()
    if cold:
        env.pop(WARM_SOCKET_ENV, None)
    if not stream:
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        return CommandResult(args, proc.returncode, proc.stdout, proc.stderr)
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as streamed:
        assert streamed.stdout is not None
        for line in streamed.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    return CommandResult(args, streamed.returncode, "".join(lines), "")


def _run_warm(args: list[str], cwd: Path, socket_path: str, *, stream: bool) -> CommandResult:
    """The same as a new process, with output through a pipe (`stream`) or files."""
    with open(os.devnull, "rb") as stdin:
        if stream:
            return _stream_warm(args, cwd, socket_path, stdin.fileno())
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            fds = (stdin.fileno(), out.fileno(), err.fileno())
            code, lost = _call_warm(args, cwd, fds, socket_path)
            out.seek(0)
            err.seek(0)
            return CommandResult(args, code, _text(out.read()), _text(err.read()) + lost)


def _stream_warm(args: list[str], cwd: Path, socket_path: str, stdin: int) -> CommandResult:
    read_end, write_end = os.pipe()
    lines: list[str] = []

    def pump() -> None:  # until every holder of the write end (the command's tree) is done
        with open(read_end, encoding="utf-8", errors="replace") as output:
            for line in output:
                print(line, end="", flush=True)
                lines.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code, lost = _call_warm(args, cwd, (stdin, write_end, write_end), socket_path)
    finally:
        os.close(write_end)
        reader.join()
    return CommandResult(args, code, "".join(lines), lost)


def _call_warm(
    args: list[str], cwd: Path, fds: tuple[int, int, int], socket_path: str
) -> tuple[int, str]:
    """The exit code and, where the runner was lost mid-command, why (the command may
    have run in part: a failure, not something to run again)."""
    try:
        return warm.call(args, str(cwd), tool_env(), fds, socket_path), ""
    except warm.Lost as exc:
        return 1, f"\n{exc}"


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def code_sha() -> str:
    """The modelfleet checkout's commit (recorded on every lineage row)."""
    from modelfleet.settings import CHECKOUT

    result = run(["git", "rev-parse", "HEAD"], CHECKOUT)
    return result.stdout.strip() if result.ok else "unknown"
