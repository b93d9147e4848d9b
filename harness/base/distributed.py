"""Several processes, one run: JAX's multi-process runtime (``jax.distributed``).

``harness check --distributed`` started once per process (on a cluster: one per host, by its launcher) joins
them; every process runs the same checks and the sweeps split their (point, step size) rows over the devices of
all of them (harness.measure.sweep_mesh), then every process gathers the whole result. The first process prints
and writes; the others are silent. The processes meet at ``$JAX_COORDINATOR_ADDRESS`` (host:port of process 0);
their count and each one's index come from ``$HARNESS_PROCESSES`` and ``$HARNESS_PROCESS_ID`` where set, else
from the cluster's environment as JAX detects it (SLURM, Open MPI, ...). On CPU the processes talk through gloo.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

PROCESSES = "HARNESS_PROCESSES"
"""Environment variable: how many processes take part (default: the cluster's, as JAX detects it)."""
PROCESS_ID = "HARNESS_PROCESS_ID"
"""Environment variable: this process's index, 0 to PROCESSES - 1 (default: the cluster's)."""


def start() -> None:
    """Join the other processes (once per process; before any JAX computation)."""
    import jax

    if jax.distributed.is_initialized():
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    count, index = os.environ.get(PROCESSES), os.environ.get(PROCESS_ID)
    jax.distributed.initialize(num_processes=int(count) if count else None,
                               process_id=int(index) if index else None)


def processes() -> int:
    """How many processes take part (1 when the run is not distributed)."""
    import jax

    return jax.process_count()


def main_process() -> bool:
    """Whether this process prints and writes the run's results (process 0)."""
    import jax

    return jax.process_index() == 0


def gathered(array: Any) -> np.ndarray:
    """The whole value of ``array`` on this process: itself when it lives here, else gathered from every process."""
    if processes() == 1:
        return np.asarray(array)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(array, tiled=True))
