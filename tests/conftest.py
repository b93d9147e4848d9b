import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import pytest  # noqa: E402

import harness  # noqa: E402,F401  (float64 on)
from harness.catalog import catalog  # noqa: E402


@pytest.fixture(scope="session")
def games():
    return catalog()
