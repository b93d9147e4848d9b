"""Float64 for the harness's computations, scoped: the process's global JAX configuration is left alone.

Every entry point that traces or runs JAX code (the Python API, ``run_check``, the command line, the
threads of ``harness.base.parallel``, loading game files) runs inside ``jax.enable_x64(True)``, a thread-local
context, so that a user's float32 JAX code in the same process keeps its precision. The measurement kernels
refuse to run without it (``require_float64``) rather than measure in float32.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import jax
import jax.numpy as jnp

P = ParamSpec("P")
R = TypeVar("R")


def float64(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run inside ``jax.enable_x64(True)`` (then the caller's setting is restored)."""

    @functools.wraps(function)
    def scoped(*args: P.args, **kwargs: P.kwargs) -> R:
        with jax.enable_x64(True):
            return function(*args, **kwargs)

    return scoped


def require_float64(what: str) -> None:
    """RuntimeError when JAX is not in float64 here (a harness internal called outside its entry points)."""
    if jnp.zeros(()).dtype != jnp.float64:
        raise RuntimeError(f"{what} computes in float64: call it through harness.check, harness.check_all or "
                           "run_check, or inside `with jax.enable_x64(True):`")
