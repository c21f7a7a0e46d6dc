"""llama.cpp's own log lines, read at the levels llama.cpp gives them.

llama-cpp-python 0.3.x reads the log level of each line with an older numbering of ggml's levels
(DEBUG 1, INFO 2, WARN 3, ERROR 4 today): it takes a warning for an error and an error for debug
output. With `verbose=False` llama.cpp's warnings therefore reach stderr (the `hidden` reading's
"pooling_type" warning, the compute-buffer checks each time a context is freed) and its errors do not.
`route_native_logs()` replaces that callback once per process: errors go to stderr, and every line goes
to the `smolgepa.llama_cpp` logger at DEBUG, prefixed with its own level. (Not at its own level: Python's
last-resort handler prints a warning of any logger to stderr when the program configured none.)
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

log = logging.getLogger("smolgepa.llama_cpp")

# ggml_log_level -> logging level; CONT (5) continues the previous line at its level.
LEVELS = {0: logging.CRITICAL, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
CONTINUE = 5

_installed: Any = None  # the ctypes callback, kept alive for as long as llama.cpp may call it
_last_level = logging.INFO
_install_lock = threading.Lock()


def native_line(level: int, text: str) -> None:
    """One line (or piece of a line) from llama.cpp: logged at DEBUG, and an error also on stderr."""
    global _last_level
    python_level = _last_level if level == CONTINUE else LEVELS.get(level, logging.INFO)
    _last_level = python_level
    if python_level >= logging.ERROR:
        sys.stderr.write(text)
        sys.stderr.flush()
    if text.strip():
        log.debug("[%s] %s", logging.getLevelName(python_level), text.rstrip("\n"))


def route_native_logs() -> None:
    """Install the callback (once per process; later calls do nothing)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            return
        import ctypes

        import llama_cpp

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            native_line(int(level), text.decode("utf-8", "replace"))

        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        _installed = callback
