"""A command's side of the warm runner: the request that names it, and running it in
the forked child as a new process would (the caller's stdio, directory, environment).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass

from modelfleet.host.supervise import die_with
from modelfleet.host.warm_client import HEADER, STAGE, STDIO, accepts

MAX_REQUEST = 1 << 20
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Command:
    argv: list[str]
    cwd: str
    env: dict[str, str]


def read_request(conn: socket.socket) -> tuple[Command, list[int]]:
    """The command and its stdio descriptors; ValueError names what was wrong."""
    conn.settimeout(REQUEST_TIMEOUT_S)
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, STDIO)
    ok = False
    try:
        if len(fds) != STDIO:
            raise ValueError(
                f"expected {STDIO} descriptors (stdin, stdout, stderr), got {len(fds)}"
            )
        if len(data) < HEADER.size:
            raise ValueError("the request is shorter than its header")
        (length,) = HEADER.unpack_from(data)
        if length > MAX_REQUEST:
            raise ValueError(f"a request of {length} bytes is over {MAX_REQUEST}")
        body = data[HEADER.size :]
        while len(body) < length:
            chunk = conn.recv(length - len(body))
            if not chunk:
                raise ValueError("the caller hung up mid-request")
            body += chunk
        fields = json.loads(body)
        command = Command(argv=fields["argv"], cwd=fields["cwd"], env=fields["env"])
        if not accepts(command.argv):
            raise ValueError(f"not a command the warm runner runs: {command.argv[:3]}")
        if not os.path.isdir(command.cwd):
            raise ValueError(f"no such directory: {command.cwd}")
        ok = True
        return command, fds
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    finally:
        if not ok:  # a bad request, or a caller too slow to send it (TimeoutError)
            for fd in fds:
                os.close(fd)


def execute(argv: list[str]) -> int:
    """Run the command in this (forked) process, as its program's `main` would."""
    try:
        if argv[0] == "dvc":
            from dvc.cli import main as dvc_main

            return dvc_main(argv[1:])
        if argv[0] == "gto":
            from gto.cli import app

            app(args=argv[1:], prog_name="gto")
            return 0
        from modelfleet.training.stage import main as stage_main

        return stage_main(argv[len(STAGE) :])
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1


def become_command(command: Command, fds: list[int], runner: int) -> None:
    """In the child: the caller's stdio, directory, environment and argv."""
    os.setpgid(0, 0)  # one group per command, so a gone caller's command dies whole
    atexit._clear()  # the runner's exit handlers are not the command's
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    die_with(runner)  # its caller would see it lost anyway
    # The runner's own log handlers would copy every command's log records into it.
    logging.root.handlers.clear()
    logging.root.setLevel(logging.WARNING)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = _text_out(1)
    sys.stderr = _text_out(2)
    os.chdir(command.cwd)
    os.environ.clear()
    os.environ.update(command.env)
    sys.argv = list(command.argv)


def refuse(conn: socket.socket, reason: str) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(f"refused {reason}\n".encode())
    conn.close()


def _text_out(fd: int) -> io.TextIOWrapper:
    # line-buffered: `dvc repro` and training stream into the Airflow task log
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
