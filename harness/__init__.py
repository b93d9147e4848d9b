"""Discretization-drift harness: measure how closely flows track discrete learning dynamics.

The harness computes in float64 inside its own calls (``jax.enable_x64`` as a context, harness.base.precision),
leaving the process's JAX precision as it was. Importing the package changes no ``jax.config`` value and no
environment variable: the entry points (the command line, the functions of ``harness.api``, ``harness.derive``,
the pytest fixture ``harness_check``) turn on JAX's persistent compilation cache (``enable_compilation_cache``:
directory ``$HARNESS_CACHE_DIR``, default ``$XDG_CACHE_HOME/discretization-drift-harness/jax`` with
``XDG_CACHE_HOME`` defaulting to ``~/.cache``; set ``HARNESS_CACHE_DIR=off`` to disable it; a
``jax_compilation_cache_dir`` the process set before is kept as it is). The traced kernels
of ``harness.measure.kernel_cache`` are capped at ``HARNESS_CACHE_MAX_MB`` (default 256) and JAX's compiled programs at
``HARNESS_PROGRAMS_MAX_MB`` (default 1024), the least recently used evicted first; ``harness cache info`` and
``harness cache clear`` show and empty the caches. A cache folder that cannot be used (read-only, a file, or
not creatable) turns the caches off for the process, with one warning line on stderr.
"""

import importlib
from typing import TYPE_CHECKING, Any

from harness.base import signals as _signals
from harness.base.version import __version__

_signals.early()  # the command line only: Ctrl-C while it imports is one line and exit 130 (harness.signals)

_EXPORTS = {
    **dict.fromkeys(["check", "check_all", "derive", "diagnose", "document", "explain", "list_games", "load",
                     "make_report", "make_settings", "new_game", "worst_point"], "harness.api"),
    **dict.fromkeys(["cache_folder", "enable_compilation_cache"], "harness.base.cache_config"),
    **dict.fromkeys(["FlowError", "GameError", "HarnessError", "MatrixError", "ResultsError", "RuleError",
                     "UsageError"], "harness.base.errors"),
    **dict.fromkeys(["Game", "single_objective"], "harness.model.game"),
    "Status": "harness.base.status",
    **dict.fromkeys(["flow", "rule"], "harness.model.user"),
}
"""The public names and the modules they live in, imported on first use: ``import harness`` imports no JAX."""


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from harness.api import (
        check,
        check_all,
        derive,
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
    from harness.base.cache_config import cache_folder, enable_compilation_cache
    from harness.base.errors import (
        FlowError,
        GameError,
        HarnessError,
        MatrixError,
        ResultsError,
        RuleError,
        UsageError,
    )
    from harness.base.status import Status
    from harness.model.game import Game, single_objective
    from harness.model.user import flow, rule

__all__ = ["FlowError", "Game", "GameError", "HarnessError", "MatrixError", "ResultsError", "RuleError", "Status",
           "UsageError", "__version__", "cache_folder", "check", "check_all", "derive", "diagnose", "document",
           "enable_compilation_cache", "explain", "flow", "list_games", "load", "make_report", "make_settings",
           "new_game", "rule", "single_objective", "worst_point"]
