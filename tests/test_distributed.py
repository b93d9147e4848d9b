"""Two local processes joined by jax.distributed (harness.base.distributed) split a sweep's rows between their
devices and give the numbers one process gives, to round-off (the measurement's floor, a few eps |z|)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

import harness

WORKER = """
import json, sys
from harness.base import distributed
distributed.start()
import jax
import harness
from harness.measure import sweep_mesh
mesh = sweep_mesh()
result = harness.check("bilinear", "simultaneous", "modified", lr2=0.3, points=2, step_sizes=6)
json.dump({"processes": jax.process_count(), "mesh": [d.process_index for d in mesh.devices.flat],
           "errors": result.measurement.errors.tolist(), "slope": result.fit.slope}, open(sys.argv[1], "w"))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_split_a_sweep_and_agree_with_one(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # one CPU device per process
    environment.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{_free_port()}", HARNESS_PROCESSES="2")
    outputs = [tmp_path / f"process{i}.json" for i in range(2)]
    runs = [subprocess.Popen([sys.executable, "-c", WORKER, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**environment, "HARNESS_PROCESS_ID": str(i)}, text=True)
            for i, out in enumerate(outputs)]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-2000:]
    alone = harness.check("bilinear", "simultaneous", "modified", lr2=0.3, points=2, step_sizes=6)
    for out in outputs:
        found = json.loads(out.read_text())
        assert found["processes"] == 2 and sorted(found["mesh"]) == [0, 1]  # the rows went to both processes
        errors = np.array(found["errors"])
        assert np.all(np.abs(errors - alone.measurement.errors) <= alone.measurement.floor)  # round-off
        assert abs(found["slope"] - alone.fit.slope) < 1e-6
