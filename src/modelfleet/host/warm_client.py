"""The caller's side of the warm runner (see `modelfleet.warm`).

Stays cheap to import: the stage entry point (`python -m modelfleet.training.stage`)
imports it before anything heavy, to hand its command over.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
from collections.abc import Sequence

from modelfleet.settings import warm_socket_path

STAGE = ("python", "-m", "modelfleet.training.stage")
PROGRAMS = ("dvc", "gto")
HEADER = struct.Struct("!I")  # the request's length, before its JSON
STDIO = 3  # stdin, stdout, stderr travel with every request


class Unavailable(Exception):
    """No warm runner answers at the socket: run the command in a new process."""


class Lost(Exception):
    """The runner took the command but hung up before it ended (it died or was stopped):
    the command may have run in part, so it is not run again."""


def accepts(argv: Sequence[str]) -> bool:
    """Can the warm runner run this command? (Anything else always runs cold.)"""
    return bool(argv) and (argv[0] in PROGRAMS or tuple(argv[: len(STAGE)]) == STAGE)


def socket_path() -> str | None:
    """The runner's socket, as `modelfleet up` tells the processes it starts."""
    return warm_socket_path()


def call(
    argv: Sequence[str],
    cwd: str,
    env: dict[str, str],
    stdio: tuple[int, int, int],
    path: str,
) -> int:
    """Run `argv` in the warm runner at `path`, on these stdin/stdout/stderr descriptors.

    Returns the exit code as `subprocess` reports it (negative: killed by that
    signal). Raises Unavailable when nobody listens at `path` (nothing ran) and Lost
    when the runner went away during the command.
    """
    body = json.dumps({"argv": list(argv), "cwd": cwd, "env": env}).encode()
    message = HEADER.pack(len(body)) + body
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            sock.connect(path)
            sent = socket.send_fds(sock, [message], list(stdio))
            if sent < len(message):  # (an empty send to a runner that answered is EPIPE)
                sock.sendall(message[sent:])
            # Blocks until the command ends; if this process dies first, the closed
            # socket tells the runner to kill the command.
            reply = sock.makefile("rb").readline().decode().strip()
        except ConnectionResetError:  # closed with the request unread: nothing ran
            raise Unavailable(f"the warm runner at {path} stopped before taking it") from None
        except OSError as exc:  # nobody there, not ours, path too long, a bad descriptor
            raise Unavailable(f"no warm runner at {path} ({exc.strerror or exc})") from None
    finally:
        sock.close()
    word, _, rest = reply.partition(" ")
    if word == "exit":
        return int(rest)
    if word == "refused":
        raise Unavailable(f"the warm runner refused {list(argv)[:4]}: {rest}")
    raise Lost(f"the warm runner at {path} hung up before {list(argv)[:4]} ended")


def exit_status(code: int) -> int:
    """A shell's exit status for `subprocess`'s code (a signal's is 128 + its number)."""
    return 128 - code if code < 0 else code


def delegate_stage(args: Sequence[str]) -> int | None:
    """Hand `python -m modelfleet.training.stage <args>` to the warm runner, with this
    process's directory, environment and stdio. None: no runner; run it here."""
    path = socket_path()
    if path is None:
        return None
    try:
        code = call([*STAGE, *args], os.getcwd(), dict(os.environ), (0, 1, 2), path)
    except Unavailable as exc:
        print(f"{exc}; running in this process", file=sys.stderr)
        return None
    except Lost as exc:
        print(exc, file=sys.stderr)
        return 1
    return exit_status(code)
