"""Keep TensorFlow's log noise off the user's terminal, without losing it.

TensorFlow, Keras and the TFLite converter talk on four channels: native logs (absl / TF
logging: oneDNN, cpu_feature_guard, MLIR passes), raw writes to fd 2 ("fully_quantize: 0 ..."),
the Python `absl` / `tensorflow` loggers ("... will use the deprecated conversion path") and
Python warnings ("Statistics for quantized inputs were expected", Keras input-structure
warnings). `tf_environment()` sets TF's environment before TensorFlow is first imported (the
package calls it on import); `quiet(log)` scopes the rest to one piece of work: fd 2, the
warnings and those loggers all go to `log` (appended; a temporary file when None), and an
exception raised inside carries the log's tail in its notes. Nested uses share the outer log;
`@quietly` wraps a function in `quiet()`.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2",       # native INFO and WARNING off (errors stay, in the log)
        "TF_ENABLE_ONEDNN_OPTS": "0"}      # oneDNN's reordered float sums off: repeatable results
_LOGGERS = ("absl", "tensorflow", "keras")
_TAIL_LINES = 15
_depth = 0


def tf_environment() -> None:
    """TensorFlow's environment (user settings win); only effective before TF is imported."""
    for key, value in _ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def _fd2_to(fh):
    """Point fd 2 (native code) and sys.stderr at `fh` for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(fh.fileno(), 2)
        with contextlib.redirect_stderr(fh):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _loggers_to(fh):
    """The Python loggers TF / Keras use: records to `fh` only, not to the console."""
    handler = logging.StreamHandler(fh)
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate


def _log_warning(fh):
    def show(message, category, filename, lineno, file=None, line=None):
        fh.write(warnings.formatwarning(message, category, filename, lineno, line))
    return show


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_TAIL_LINES:])


@contextlib.contextmanager
def quiet(log: Path | None = None):
    """Send TensorFlow's native logs, its Python loggers and warnings to `log` while inside."""
    global _depth
    if _depth:                                  # an outer quiet() already captures everything
        yield
        return
    tf_environment()
    if log is None:
        fh = tempfile.NamedTemporaryFile("a+", prefix="dnasgen-tf-", suffix=".log", delete=False)
    else:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        fh = open(log, "a", encoding="utf-8", buffering=1)
    path = Path(fh.name)
    _depth += 1
    try:
        with fh, _fd2_to(fh), _loggers_to(fh), warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _log_warning(fh)
            yield
    except BaseException as exc:
        tail = _tail(path)
        if tail and hasattr(exc, "add_note"):
            exc.add_note(f"TensorFlow log ({path if log is not None else 'tail'}):\n{tail}")
        raise
    finally:
        _depth -= 1
        if log is None:
            path.unlink(missing_ok=True)


def quietly(func):
    """Decorator: run `func` inside `quiet()` (a temporary log, or the enclosing quiet()'s)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with quiet():
            return func(*args, **kwargs)
    return wrapper
