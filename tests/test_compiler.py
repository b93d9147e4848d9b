"""XLA's options for the harness's programs (harness/base/compiler.py)."""

import jax
import jax.numpy as jnp

from harness.base import compiler


def test_the_programs_are_compiled_with_the_elemental_emitters_without_llvm_optimisations_in_one_module_on_cpu_only():
    expected = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 0,
                "xla_cpu_parallel_codegen_split_count": 1}
    expected = expected if jax.default_backend() == "cpu" else {}
    assert compiler.compiler_options() == expected
    assert float(compiler.jit(lambda x: jnp.sum(x * 2.0))(jnp.arange(4.0))) == 12.0


def test_an_xla_without_the_option_compiles_with_its_defaults(monkeypatch):
    monkeypatch.setattr(compiler, "CPU_OPTIONS", {"xla_cpu_no_such_option": False})
    compiler.compiler_options.cache_clear()
    try:
        assert compiler.compiler_options() == {}  # on CPU: the option was refused
        assert float(compiler.jit(lambda x: x * 2.0)(1.5)) == 3.0
    finally:
        compiler.compiler_options.cache_clear()


def test_a_program_that_runs_long_is_compiled_with_xlas_defaults(monkeypatch):
    options = compiler.compiler_options()  # asked before jax.jit is replaced: the answer is cached
    passed = []
    monkeypatch.setattr(compiler.jax, "jit", lambda function, **kwargs: passed.append(kwargs["compiler_options"]))
    compiler.jit(abs)
    compiler.jit(abs, runs_long=True)
    assert passed == [options, {}]
