"""The warm runner (`modelfleet warm-runner`): one process that has imported TensorFlow,
Great Expectations, DVC and GTO, and forks a child per command (see `modelfleet.warm`).

One thread, one selector loop: it accepts a request, forks, and waits on the child's
pidfd and on the caller's socket. Forking from a single thread means no lock can be
held by a thread that the child does not have. A caller that goes away (its task was
killed) gets its command's process group killed; a child's exit code goes back to
its caller.

It also hosts the platform's stage mirror (`mirror.py`): a child forked once, after the
imports, that copies Postgres alias moves into GTO stages. The selector loop restarts it
when it dies.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import logging
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelfleet.errors import PlatformError
from modelfleet.host.supervise import die_with
from modelfleet.warm import mirror
from modelfleet.warm.command import Command, become_command, execute, read_request, refuse

log = logging.getLogger("modelfleet.warm")

# What the commands import; imported once here, shared copy-on-write by every child.
PRELOAD = (
    "tensorflow",
    "keras",
    "matplotlib.pyplot",
    "great_expectations",
    "dvc.cli",
    "dvc.cli.parser",
    "dvc.repo",
    "dvc.repo.reproduce",
    "gto.cli",
    "modelfleet.training.stage",
    "modelfleet.training.train",
    "modelfleet.training.evaluate",
    "modelfleet.training.export",
    "modelfleet.validation.stage",
)
MAX_SOCKET_PATH = 108  # sun_path, the terminating NUL included (Linux)
STOP_GRACE_S = 5.0
MIRROR_RESTART_S = 2.0  # after the stage mirror died; the next one finishes its work


@dataclass
class Job:
    pid: int
    conn: socket.socket
    pidfd: int
    argv: list[str]
    started: float = field(default_factory=time.monotonic)


@dataclass
class MirrorChild:
    pid: int
    pidfd: int


def preload() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    for module in PRELOAD:
        began = time.monotonic()
        try:
            importlib.import_module(module)
        except Exception as exc:  # the command that needs it will fail with the real error
            log.warning("could not preload %s: %s", module, exc)
            continue
        log.info("preloaded %s in %.1fs", module, time.monotonic() - began)


class WarmRunner:
    def __init__(self, path: Path, *, stage_mirror: bool = True) -> None:
        self.path = path
        self.stage_mirror = stage_mirror
        self.selector = selectors.DefaultSelector()
        self.jobs: dict[int, Job] = {}
        self.stopping = False
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.wakeup_r, self.wakeup_w = os.pipe()
        self.inode = 0
        self.mirror: MirrorChild | None = None
        self.mirror_due = 0.0  # when to (re)start the stage mirror

    def bind(self) -> None:
        """Take the socket path, unless another runner answers there."""
        if len(os.fsencode(self.path)) >= MAX_SOCKET_PATH:
            raise PlatformError(
                f"the socket path {self.path} is longer than a Unix socket allows "
                f"({MAX_SOCKET_PATH - 1} bytes); use a shorter MODELFLEET_HOME or --socket"
            )
        if _answers(self.path):
            raise PlatformError(f"another warm runner listens at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # a dead runner's
        self.listener.bind(str(self.path))
        os.chmod(self.path, 0o600)  # the caller's environment holds its secrets
        self.inode = self.path.stat().st_ino
        # Callers queue from now on; they are served once the imports are done.
        self.listener.listen(64)

    def serve(self) -> None:
        self.listener.setblocking(False)
        os.set_blocking(self.wakeup_w, False)
        signal.set_wakeup_fd(self.wakeup_w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.selector.register(self.wakeup_r, selectors.EVENT_READ, "wakeup")
        log.info("warm runner listening at %s (pid %d)", self.path, os.getpid())
        try:
            while not self.stopping:
                self._keep_mirror()
                for key, _events in self.selector.select(self._mirror_wait()):
                    try:
                        self._dispatch(key.data, key.fileobj)
                    except Exception:  # one event must not take every running command down
                        log.exception("warm runner: an event failed")
        finally:
            self._shutdown()

    def _stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def _dispatch(self, what: Any, fileobj: Any) -> None:
        if what == "accept":
            self._accept()
        elif what == "wakeup":
            with contextlib.suppress(BlockingIOError):
                os.read(self.wakeup_r, 512)
        elif what == "mirror":
            self._reap_mirror()
        elif what.pid not in self.jobs:  # reaped in this same batch of events
            return
        elif fileobj is what.conn:  # the caller went away: kill its command
            log.warning("caller of pid %d went away; killing %s", what.pid, what.argv[:4])
            with contextlib.suppress(ProcessLookupError):
                os.killpg(what.pid, signal.SIGKILL)
            self.selector.unregister(what.conn)
        else:
            self._reap(what)

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        except OSError as exc:  # e.g. out of descriptors: callers wait in the backlog
            log.error("cannot accept: %s", exc)
            time.sleep(0.1)
            return
        try:
            command, fds = read_request(conn)
        except (ValueError, OSError) as exc:
            log.warning("refused a request: %s", exc)
            refuse(conn, str(exc))
            return
        try:
            pid = self._fork(command, fds, conn)
        except OSError as exc:  # nothing ran: the caller starts it as a new process
            log.error("cannot fork for %s: %s", command.argv[:4], exc)
            refuse(conn, f"cannot fork: {exc}")
            return
        finally:
            for fd in fds:
                os.close(fd)
        with contextlib.suppress(OSError):  # the child's own setpgid may come later
            os.setpgid(pid, pid)
        job = Job(pid=pid, conn=conn, pidfd=os.pidfd_open(pid), argv=command.argv)
        self.jobs[pid] = job
        self.selector.register(job.pidfd, selectors.EVENT_READ, job)
        self.selector.register(conn, selectors.EVENT_READ, job)
        log.info("pid %d runs %s in %s", pid, command.argv[:4], command.cwd)

    def _fork(self, command: Command, fds: list[int], conn: socket.socket) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        runner = os.getpid()
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            self._close_in_child(conn)
            become_command(command, fds, runner)
            code = execute(command.argv)
        except BaseException:  # the command's own stderr shows it; the child must end here
            traceback.print_exc()
        finally:
            # What a normal exit does (TensorFlow removes its AutoGraph temp files there);
            # os._exit, so that nothing of the runner's runs twice.
            with contextlib.suppress(BaseException):
                atexit._run_exitfuncs()
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
        raise AssertionError("unreachable")

    # -- the stage mirror ----------------------------------------------------
    def _keep_mirror(self) -> None:
        if not self.stage_mirror:
            return
        if self.mirror is None and not self.stopping and time.monotonic() >= self.mirror_due:
            try:
                self._fork_mirror()
            except OSError as exc:
                log.error("cannot fork the stage mirror: %s", exc)
                self.mirror_due = time.monotonic() + MIRROR_RESTART_S

    def _mirror_wait(self) -> float | None:
        """How long the loop may sleep: until the stage mirror is due again, if it is down."""
        if self.mirror is not None or not self.stage_mirror:
            return None
        return max(0.0, self.mirror_due - time.monotonic())

    def _fork_mirror(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        runner = os.getpid()
        pid = os.fork()
        if pid:
            self.mirror = MirrorChild(pid, os.pidfd_open(pid))
            self.selector.register(self.mirror.pidfd, selectors.EVENT_READ, "mirror")
            log.info("stage mirror: pid %d", pid)
            return
        try:
            self._close_in_child(None)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            die_with(runner)
            mirror.run_forever()
        except BaseException:  # the runner's log shows it; the child must end here
            traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                sys.stderr.flush()
            os._exit(1)

    def _reap_mirror(self) -> None:
        child = self.mirror
        if child is None:
            return
        _, status = os.waitpid(child.pid, 0)
        self.selector.unregister(child.pidfd)
        os.close(child.pidfd)
        self.mirror = None
        self.mirror_due = time.monotonic() + MIRROR_RESTART_S
        code = os.waitstatus_to_exitcode(status)
        log.warning("stage mirror (pid %d) ended %d; restarting it", child.pid, code)

    def _stop_mirror(self) -> None:
        child = self.mirror
        if child is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(child.pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
        os.close(child.pidfd)
        self.mirror = None

    def _close_in_child(self, conn: socket.socket | None) -> None:
        if conn is not None:
            conn.close()
        if self.mirror is not None:
            os.close(self.mirror.pidfd)
        for job in self.jobs.values():
            job.conn.close()
            os.close(job.pidfd)
        self.selector.close()
        self.listener.close()
        os.close(self.wakeup_r)
        os.close(self.wakeup_w)

    def _reap(self, job: Job) -> None:
        _, status = os.waitpid(job.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self.selector.unregister(job.pidfd)
        os.close(job.pidfd)
        if job.conn.fileno() != -1:
            with contextlib.suppress(KeyError):
                self.selector.unregister(job.conn)
            with contextlib.suppress(OSError):
                job.conn.sendall(f"exit {code}\n".encode())
            job.conn.close()
        del self.jobs[job.pid]
        log.info("%s ended %d in %.1fs", job.argv[:4], code, time.monotonic() - job.started)

    def _shutdown(self) -> None:
        """Commands still running are stopped: their callers see them fail."""
        self._stop_mirror()
        for job in self.jobs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for job in self.jobs.values():
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(job.pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
                    time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGKILL)
            job.conn.close()
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_ino == self.inode:  # not a newer runner's socket
                self.path.unlink()
        log.info("warm runner stopped")


def run(path: Path, *, stage_mirror: bool = True) -> None:
    """`modelfleet warm-runner`: preload, then serve until SIGTERM; `stage_mirror`
    False leaves GTO alone (another process mirrors the aliases, or nothing should)."""
    from modelfleet.host.logs import configure_logging

    configure_logging()
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # chatty at import
    runner = WarmRunner(path, stage_mirror=stage_mirror)
    runner.bind()  # before the imports: a second runner or a bad path fails at once
    began = time.monotonic()
    preload()
    gc.freeze()  # what is imported stays shared: no collector touches (and copies) it
    log.info("preloaded in %.1fs", time.monotonic() - began)
    runner.serve()


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
