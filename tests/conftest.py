import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import pytest  # noqa: E402

import harness  # noqa: E402
from harness.model.catalog import catalog  # noqa: E402

harness.enable_compilation_cache()  # as the entry points do: the tests that call internals use the caches too


@pytest.fixture(autouse=True)
def _float64(request):
    """Tests of the harness's internals run in float64, as the entry points do (harness.base.precision); those
    marked ``user_precision`` run in the process's own precision, as a user's code does."""
    if request.node.get_closest_marker("user_precision"):
        yield
        return
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def games():
    return catalog()
