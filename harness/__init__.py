"""Discretization-drift harness: measure how closely flows track discrete learning dynamics.

The harness computes in float64 inside its own calls (``jax.enable_x64`` as a context, harness.precision),
leaving the process's JAX precision as it was. Importing the package turns on JAX's persistent compilation cache
(directory ``$HARNESS_CACHE_DIR``, default ``$XDG_CACHE_HOME/discretization-drift-harness/jax`` with
``XDG_CACHE_HOME`` defaulting to ``~/.cache``; set ``HARNESS_CACHE_DIR=off`` to disable it). The traced kernels
of ``harness.kernel_cache`` are capped at ``HARNESS_CACHE_MAX_MB`` (default 256) and JAX's compiled programs at
``HARNESS_PROGRAMS_MAX_MB`` (default 1024), the least recently used evicted first; ``harness cache info`` and
``harness cache clear`` show and empty the caches.
"""

import os

import jax


def cache_folder() -> str:
    """Where the caches live: ``$HARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME`` (default ``~/.cache``) /
    discretization-drift-harness/jax; "off" when turned off."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("HARNESS_CACHE_DIR") or os.path.join(base, "discretization-drift-harness", "jax")


def cache_limit_bytes(variable: str = "HARNESS_CACHE_MAX_MB", default_mb: int = 256) -> int:
    """A cache's size cap in bytes: the environment ``variable`` in MB (the kernels: ``HARNESS_CACHE_MAX_MB``,
    default 256; the compiled programs: ``HARNESS_PROGRAMS_MAX_MB``, default 1024)."""
    try:
        return int(float(os.environ.get(variable, str(default_mb))) * 2**20)
    except ValueError:
        return default_mb * 2**20


def programs_limit_bytes() -> int:
    """The cap of JAX's compiled programs (``HARNESS_PROGRAMS_MAX_MB``, default 1024 MB)."""
    return cache_limit_bytes("HARNESS_PROGRAMS_MAX_MB", 1024)


def _enable_compilation_cache() -> None:
    path = cache_folder()
    if path.lower() == "off":
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_enable_compilation_cache()

from harness.api import (  # noqa: E402
    check,
    check_all,
    diagnose,
    document,
    explain,
    list_games,
    load,
    make_report,
    make_settings,
    new_game,
    worst_point,
)
from harness.game import Game, GameError, single_objective  # noqa: E402
from harness.user import flow, rule  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Game", "GameError", "single_objective", "__version__", "check", "check_all", "diagnose", "document",
           "explain", "flow", "list_games", "load", "make_report", "make_settings", "new_game", "rule", "worst_point"]
