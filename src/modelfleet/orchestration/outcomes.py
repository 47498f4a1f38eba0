"""What a finished `retrain__<wf>` run did, read from its task states.

One mapping for everyone who reads runs back: `modelfleet retrain --wait` (and its exit
code), the demo and `simulate-year`'s report.
"""

from __future__ import annotations

PROMOTED = "promoted"
GATE_REJECTED = "rejected by the gate"
VALIDATION_STOPPED = "stopped by validation"
NO_DATA = "no data for the month"
ROLLED_BACK = "rolled back by smoke"
NOT_MOVED = "released, production newer"
NOT_STARTED = "not started"  # marked failed before any task ran (a year cut short)

# `modelfleet retrain --wait` exits with these; every other outcome (a failure) is 1.
EXIT_RELEASED = 0
EXIT_FAILED = 1
EXIT_REJECTED = 3
EXIT_NO_DATA = 4
_EXIT_CODES = {
    PROMOTED: EXIT_RELEASED,
    NOT_MOVED: EXIT_RELEASED,
    GATE_REJECTED: EXIT_REJECTED,
    NO_DATA: EXIT_NO_DATA,
}


def outcome(tasks: dict[str, str | None], state: str) -> str:
    """A finished run's outcome, from its task states (`failed at <task>` for the rest)."""
    if state == "failed" and all(s in (None, "skipped") for s in tasks.values()):
        return NOT_STARTED  # a skipped snapshot in a failed run did not find "no data"
    if tasks.get("snapshot") == "skipped":
        return NO_DATA
    if tasks.get("validate") == "failed":
        return VALIDATION_STOPPED
    if tasks.get("gate") == "success" and tasks.get("register") == "skipped":
        return GATE_REJECTED
    if tasks.get("smoke") == "success":
        return PROMOTED
    if tasks.get("smoke") == "skipped" and tasks.get("deploy") == "success":
        return NOT_MOVED
    if tasks.get("smoke") == "failed":
        return ROLLED_BACK
    failed = [task for task, s in tasks.items() if s in ("failed", "upstream_failed")]
    return f"failed at {failed[0]}" if failed else state


def exit_code(run_outcome: str) -> int:
    """0 released, 3 rejected by the gate, 4 no data for the month, 1 anything else."""
    return _EXIT_CODES.get(run_outcome, EXIT_FAILED)


def deciding_task(tasks: dict[str, str | None], run_outcome: str) -> str | None:
    """The task whose state decided the outcome: the one that skipped or failed the run."""
    if run_outcome == NO_DATA:
        return "snapshot"
    if run_outcome == GATE_REJECTED:
        return "gate"
    failed = [task for task, s in tasks.items() if s == "failed"]
    return failed[0] if failed else None
