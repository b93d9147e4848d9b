"""Discretization-drift harness: measure how closely flows track discrete learning dynamics.

Importing the package switches JAX to float64 and turns on JAX's persistent compilation cache
(directory ``$HARNESS_CACHE_DIR``, default ``~/.cache/discretization-drift-harness/jax``; set
``HARNESS_CACHE_DIR=off`` to disable it).
"""

import os

import jax

jax.config.update("jax_enable_x64", True)


def _enable_compilation_cache() -> None:
    path = os.environ.get("HARNESS_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "discretization-drift-harness", "jax"
    )
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
