"""XLA's options for the harness's programs: every top-level ``jax.jit`` of the package goes through ``jit`` here.

On CPU the programs are compiled with XLA's elemental emitters instead of its newer fusion emitters
(``xla_cpu_use_fusion_emitters=False``), without LLVM's optimisations (``xla_backend_optimization_level=0``) and as
one LLVM module instead of 32 compiled in parallel (``xla_cpu_parallel_codegen_split_count=1``): the harness
compiles many distinct programs once each (Taylor-mode expansions, reference integrators) and runs each for
milliseconds. With empty caches ``harness check --all`` took 96 s against 120 s with the first option, then 54 s
against 75 s with the second added (XLA's compile time with ``--jobs 1``: 27 s against 51 s), then 28.5 s against
31.8 s with the third (CPU time 46 s against 55 s: splitting a module costs more than the parallel compilation
gains on two cores); a warm run, which runs the compiled programs, took as long as before (3.8 s). But a program
that runs long runs slower with them: the sweeps that start on the flow from a long memory
(``harness.measure.runs_long``: ``jit(..., runs_long=True)``) are compiled with XLA's defaults, since there
`check --game dirac_gan --optimizer adam` took 40 s with the first two options, 16 s with the elemental emitters
alone and 8.5 s with neither (the last two gave the same errors bit for bit). None of the options allows fast
math, but the generated code differs, so errors move at round-off (docs/performance.md has the comparisons). An
XLA that does not know the options compiles with its defaults; other platforms keep theirs. The options apply to
the harness's own programs only, never to a user's process as ``XLA_FLAGS`` would; a function that other programs
call (a game's fields, ``flow_field``, ``update_rule``) keeps ``jax.jit`` and JAX's options, since a nested
``jax.jit`` cannot carry any.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 0,
               "xla_cpu_parallel_codegen_split_count": 1}


@functools.cache
def compiler_options() -> dict[str, Any]:
    """``CPU_OPTIONS`` when JAX computes on CPU and its XLA accepts them (one tiny program compiled to ask), else
    none."""
    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1.0, compiler_options=CPU_OPTIONS).lower(0.0).compile()
    except Exception:  # noqa: BLE001  an XLA without the option: its defaults
        return {}
    return dict(CPU_OPTIONS)


def jit(function: Callable, *, runs_long: bool = False, **kwargs: Any) -> Any:
    """``jax.jit(function, **kwargs)`` compiled with ``compiler_options()``: a top-level program only (called
    inside another jit, scan, grad or jvp, JAX refuses its options; vmap and ``jax.export`` take it).
    ``runs_long``: a program whose running costs more than its compilation (harness.measure.runs_long), compiled
    with XLA's defaults instead."""
    return jax.jit(function, compiler_options={} if runs_long else compiler_options(), **kwargs)
