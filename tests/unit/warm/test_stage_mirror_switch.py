"""`modelfleet warm-runner --no-stage-mirror`: a runner that leaves GTO alone."""

from __future__ import annotations

from pathlib import Path

from modelfleet.warm.server import WarmRunner


def test_without_the_stage_mirror_no_child_is_forked_and_the_loop_sleeps(tmp_path: Path) -> None:
    runner = WarmRunner(tmp_path / "warm.sock", stage_mirror=False)
    runner._keep_mirror()
    assert runner.mirror is None
    assert runner._mirror_wait() is None  # select() blocks: no busy loop waiting for it


def test_with_the_stage_mirror_down_the_loop_wakes_to_restart_it(tmp_path: Path) -> None:
    runner = WarmRunner(tmp_path / "warm.sock")
    assert runner._mirror_wait() == 0.0
