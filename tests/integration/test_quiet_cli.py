"""Real `modelfleet` commands start without third-party noise on stderr: no absl or
CUDA start-up lines (one command imports TensorFlow), no DVC hints, no XDG warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MODELFLEET = str(Path(sys.executable).parent / "modelfleet")
NOISE = re.compile(r"XDG_RUNTIME_DIR|absl|cuda|git add", re.IGNORECASE)
# The session's own settings would hide what the CLI must do itself.
UNSET = ("XDG_RUNTIME_DIR", "TF_CPP_MIN_LOG_LEVEL", "MODELFLEET_DATABASE_URL")


@pytest.fixture()
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(MODELFLEET_HOME=str(tmp_path / "home"), MODELFLEET_DATABASE_URL=database_url)
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["zoo", "--input-shape", "28", "28", "1", "--classes", "4"],  # builds Keras models
        ["fleet"],
        ["workflow", "list"],
        ["--version"],
    ],
    ids=" ".join,
)
def test_command_stderr_is_free_of_start_up_noise(args: list[str], cli_env: dict[str, str]):
    done = subprocess.run(
        [MODELFLEET, *args], capture_output=True, text=True, env=cli_env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert not NOISE.findall(done.stderr), done.stderr[-3000:]
