"""The warm runner (`modelfleet warm-runner`) runs dvc, gto and stage commands as a new
process would: same bits, same exit codes, the caller's output; a gone caller's command
dies; anything else is refused; without a runner, commands start cold."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from modelfleet.config import load_fleet
from modelfleet.datasets.snapshot import materialise
from modelfleet.host import warm_client as client
from modelfleet.naming import model_file
from modelfleet.settings import CHECKOUT, WARM_SOCKET_ENV
from modelfleet.versioning import commands
from modelfleet.versioning.render import render_params
from tests.integration.conftest import start_warm_runner, wait_listening

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
STAGE = ["python", "-m", "modelfleet.training.stage"]


class Runner:
    def __init__(self, socket_path: Path, log: Path) -> None:
        self.socket = socket_path
        self.log = log

    def ran(self, what: str) -> list[int]:
        """Pids the runner forked for commands whose argv mentions `what`."""
        text = self.log.read_text()
        return [
            int(pid) for pid, argv in re.findall(r"pid (\d+) runs (\[.*?\])", text) if what in argv
        ]


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    folder = tmp_path_factory.mktemp("warm")
    path, log = folder / "warm.sock", folder / "warm.log"
    env = {**os.environ, "MODELFLEET_HOME": str(folder / "home"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = start_warm_runner(path, log, stage_mirror=True, env=env)
    wait_listening(proc, log)
    yield Runner(path, log)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert not path.exists(), "a stopped runner removes its socket"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    fleet = load_fleet(CHECKOUT / "workflows.yaml")
    materialise(fleet.get("digits"), "2026-01", tmp_path, tmp_path / "deliveries")
    (tmp_path / "params.yaml").write_text(render_params(fleet))
    return tmp_path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _set_epochs(workspace: Path, epochs: int) -> None:
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["digits"]["params"]["epochs"] = epochs
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))


def _warm(monkeypatch: pytest.MonkeyPatch, runner: Runner) -> None:
    monkeypatch.setenv(WARM_SOCKET_ENV, str(runner.socket))


def test_a_model_trained_warm_has_the_bits_of_one_trained_in_a_new_process(
    runner: Runner, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = workspace / model_file("digits")
    _warm(monkeypatch, runner)
    cold = commands.run([*STAGE, "train", "digits"], workspace, cold=True).check()
    cold_sha = _sha(weights)
    weights.unlink()
    assert not runner.ran("'train'"), "cold=True went to the runner"

    warm = commands.run([*STAGE, "train", "digits"], workspace, stream=True).check()

    assert _sha(weights) == cold_sha
    assert runner.ran("'train'"), "the runner did not run the stage"
    assert "Epoch 1/" in warm.stdout, "the stage's output reaches the caller as it comes"
    # The caller's last line is the stage's result, as from a new process.
    results = [json.loads(r.stdout.strip().splitlines()[-1]) for r in (cold, warm)]
    assert results[0]["artifact_sha256"] == results[1]["artifact_sha256"] == cold_sha


def test_dvc_under_the_runner_hands_its_stage_back_to_the_runner(
    runner: Runner, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dvc repro` runs in the runner; the stage command it starts is delegated too."""
    subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
    commands.run(["dvc", "init", "-q"], workspace).check()
    _set_epochs(workspace, 1)
    stage = "python -m modelfleet.training.stage train digits"
    dvc_yaml = {"stages": {"fit": {"cmd": stage, "deps": ["data/digits/train"]}}}
    (workspace / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    _warm(monkeypatch, runner)
    before = len(runner.ran("'train'"))

    result = commands.run(["dvc", "repro", "fit"], workspace, stream=True)

    assert result.ok, result.stdout[-2000:]
    assert "Running stage 'fit'" in result.stdout
    assert "artifact_sha256" in result.stdout, "the stage's output reaches dvc's caller"
    assert len(runner.ran("'train'")) == before + 1
    assert runner.ran("'dvc', 'repro'")


def test_exit_codes_and_errors_are_those_of_a_new_process(
    runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = commands.run(["dvc", "no-such-command"], tmp_path)
    cold_gto = commands.run(["gto", "show", "--repo", str(tmp_path)], tmp_path)
    _warm(monkeypatch, runner)

    warm = commands.run(["dvc", "no-such-command"], tmp_path)
    warm_gto = commands.run(["gto", "show", "--repo", str(tmp_path)], tmp_path)

    assert warm.returncode == cold.returncode != 0
    assert "no-such-command" in warm.stderr
    assert warm_gto.returncode == cold_gto.returncode != 0
    assert runner.ran("no-such-command")


def test_a_caller_that_goes_away_takes_its_command_with_it(runner: Runner, workspace: Path) -> None:
    _set_epochs(workspace, 500)  # far longer than the test waits
    caller = subprocess.Popen(
        [sys.executable, "-m", "modelfleet.training.stage", "train", "digits"],
        cwd=workspace,
        env={**os.environ, WARM_SOCKET_ENV: str(runner.socket)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert caller.stdout is not None
    for line in caller.stdout:  # the runner's child is training
        if b"Epoch 2/" in line:
            break
    command = max(runner.ran("'train'"))
    assert Path(f"/proc/{command}").exists()

    caller.kill()
    caller.wait()

    deadline = time.monotonic() + 20
    while Path(f"/proc/{command}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{command}").exists(), "the command outlived its caller"
    assert "went away" in runner.log.read_text()


def test_a_second_runner_on_the_same_socket_refuses_to_start(runner: Runner) -> None:
    second = subprocess.run(
        [str(BIN / "modelfleet"), "warm-runner", "--socket", str(runner.socket)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode != 0
    assert "another warm runner listens" in second.stdout + second.stderr
    assert client.call(["dvc", "version"], "/", {}, (0, 1, 2), str(runner.socket)) == 0


def test_it_refuses_commands_it_does_not_run(runner: Runner, tmp_path: Path) -> None:
    with open(os.devnull, "rb") as null:
        fds = (null.fileno(), null.fileno(), null.fileno())
        with pytest.raises(client.Unavailable, match=r"refused.*not a command"):
            client.call(["bash", "-c", "true"], str(tmp_path), {}, fds, str(runner.socket))
        with pytest.raises(client.Unavailable, match="no such directory"):
            client.call(["dvc", "version"], str(tmp_path / "gone"), {}, fds, str(runner.socket))


def test_without_a_runner_commands_start_new_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(WARM_SOCKET_ENV, str(tmp_path / "nobody.sock"))

    result = commands.run(["dvc", "version"], tmp_path)

    assert result.ok
    assert "DVC version" in result.stdout
    assert "no warm runner" in capsys.readouterr().err
