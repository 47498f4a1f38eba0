"""Background processes with pid files and log files under `$MODELFLEET_HOME/run`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from modelfleet.errors import PlatformError


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    pid: int | None
    running: bool
    log: Path


class ProcessManager:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def info(self, name: str) -> ProcessInfo:
        try:
            pid: int | None = int(self._pidfile(name).read_text())
        except (OSError, ValueError):  # none, or torn by a crash mid-write
            pid = None
        return ProcessInfo(name, pid, pid is not None and _alive(pid), self.log(name))

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> ProcessInfo:
        """Start `argv` detached (own session), unless it already runs."""
        current = self.info(name)
        if current.running:
            return current
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._pidfile(name).write_text(str(proc.pid))
        time.sleep(0.5)
        if proc.poll() is not None:
            raise PlatformError(
                f"{name} exited at once ({proc.returncode}); see {self.log(name)}:\n"
                + _tail(self.log(name))
            )
        return self.info(name)

    def stop(self, name: str, timeout_s: float = 20.0) -> bool:
        """SIGTERM the process group, SIGKILL after `timeout_s`. Returns whether it ran."""
        current = self.info(name)
        self._pidfile(name).unlink(missing_ok=True)
        if not current.running or current.pid is None:
            return False
        _signal_group(current.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(current.pid):
            time.sleep(0.2)
        if _alive(current.pid):
            _signal_group(current.pid, signal.SIGKILL)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
