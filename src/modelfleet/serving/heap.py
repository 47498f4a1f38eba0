"""The endpoint process's heap: fewer garbage collections, and memory handed back after
a burst of large image decodes."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
from collections.abc import Callable
from functools import cache

log = logging.getLogger("modelfleet.serving")


def settle_heap() -> None:
    """Importing TensorFlow leaves ~465k objects the garbage collector tracks; each full
    collection walks them all and stops the event loop for ~0.3 s, and JSON requests
    (hundreds of nested lists each) trigger one every second or so. Freeze what exists
    at start-up so that collections walk only what requests allocate; models loaded
    later stay collectable. A larger young generation makes collections rarer still."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def trim_heap() -> bool:
    """Give freed heap pages back to the system (glibc's malloc_trim); False elsewhere.

    A decoded 40-megapixel image and its conversions are hundreds of MB, allocated in
    the thread-pool thread that decoded it; once freed, glibc keeps much of it in that
    thread's arena. 16 such uploads left a worker 357 MB over its baseline 30 s later
    without a trim, 33 MB with one (bench/endpoint_hostile.py, docs/benchmarks.md).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@cache
def _malloc_trim() -> Callable[[int], object] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        log.debug("no malloc_trim in %s; memory after large decodes stays with the process", name)
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function
