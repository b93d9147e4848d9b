"""Where the harness keeps its caches and how large they may grow; JAX's persistent compilation cache turned on
by the entry points (``enable_compilation_cache``: the command line, the functions of harness.api, the pytest
fixture), never by importing the package."""

import math
import os
import sys
import tempfile
import threading


def cache_folder() -> str:
    """Where the caches live: ``$HARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME`` (default ``~/.cache``) /
    discretization-drift-harness/jax; "off" when turned off."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("HARNESS_CACHE_DIR") or os.path.join(base, "discretization-drift-harness", "jax")


def cache_limit_bytes(variable: str = "HARNESS_CACHE_MAX_MB", default_mb: int = 256) -> int:
    """A cache's size cap in bytes: the environment ``variable`` in MB (the kernels: ``HARNESS_CACHE_MAX_MB``,
    default 256; the compiled programs: ``HARNESS_PROGRAMS_MAX_MB``, default 1024). A value that is not a
    number >= 0 gives the default, with one warning line on stderr naming the variable."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default_mb * 2**20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = float("nan")
    if not (math.isfinite(megabytes) and megabytes >= 0):
        warn_once(f"{variable}={text!r} is not a size in MB (a number >= 0); using the default, {default_mb} MB")
        return default_mb * 2**20
    return int(megabytes * 2**20)


def programs_limit_bytes() -> int:
    """The cap of JAX's compiled programs (``HARNESS_PROGRAMS_MAX_MB``, default 1024 MB)."""
    return cache_limit_bytes("HARNESS_PROGRAMS_MAX_MB", 1024)


_WARNED: set[str] = set()


def warn_once(text: str) -> None:
    """One warning line on stderr, once per process and text."""
    if text not in _WARNED:
        _WARNED.add(text)
        print(f"harness: warning: {text}", file=sys.stderr, flush=True)


CACHE_PROBLEM: str | None = None
"""Why the cache folder could not be used (the caches are then off for this process), else None."""


def _unusable(path: str) -> str | None:
    """Why the cache folder ``path`` cannot be used, else None: it and its ``kernels/`` folder must exist or be
    creatable, and take a file (written and removed again)."""
    for folder in (path, os.path.join(path, "kernels")):
        if os.path.exists(folder) and not os.path.isdir(folder):
            return f"{folder} is a file, not a folder"
    try:
        for folder in (path, os.path.join(path, "kernels")):
            os.makedirs(folder, exist_ok=True)
            descriptor, probe = tempfile.mkstemp(prefix=".harness-probe-", dir=folder)
            os.close(descriptor)
            os.unlink(probe)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return None


_ENABLING = threading.Lock()
_ENABLED = False


def enable_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache in ``cache_folder()`` for every program (minimum compile time 0 s,
    minimum entry size 0 bytes); once per process, called by the entry points. A ``jax_compilation_cache_dir``
    set before the first call (by the user's code or ``$JAX_COMPILATION_CACHE_DIR``) is left as it is, and so
    are the thresholds; ``HARNESS_CACHE_DIR=off`` or an unusable folder leaves the cache off."""
    global CACHE_PROBLEM, _ENABLED
    with _ENABLING:
        if _ENABLED:
            return
        _ENABLED = True
        import jax  # here: the command line reads the folder before JAX is imported (harness.base.replay)

        if jax.config.jax_compilation_cache_dir:  # type: ignore[attr-defined]
            return
        CACHE_PROBLEM = _compilation_cache_problem()


def _compilation_cache_problem() -> str | None:
    """Point JAX's compilation cache at ``cache_folder()``; why the folder cannot be used, else None."""
    path = cache_folder()
    if path.lower() == "off":
        return None
    problem = _unusable(path)
    if problem:  # read-only, a file, or cannot be created: run without the caches, saying so once
        warn_once(f"the cache folder {path} cannot be used ({problem}); running without the caches (set "
                   "HARNESS_CACHE_DIR to a writable folder, or to off)")
        return problem
    cache_limit_bytes(), programs_limit_bytes()  # a bad size cap is named now, once
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return None
