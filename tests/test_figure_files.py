"""Figure files drawn in worker processes (harness.base.figure_files.FigureWriter): the bytes of a drawing in this
process, and errors raised when the writer closes."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.ticker import FuncFormatter

from harness.base.figure_files import FigureWriter, power_of_ten, save


def _figure(seed: int):
    fig, ax = plt.subplots()
    h = np.geomspace(1e-3, 1e-1, 8)
    ax.loglog(h, np.random.default_rng(seed).uniform(0.5, 2, 8) * h**2, "o--", label="errors")
    ax.xaxis.set_major_formatter(FuncFormatter(power_of_ten))
    ax.legend()
    return fig


def test_figures_drawn_in_worker_processes_are_the_bytes_drawn_here(tmp_path, monkeypatch):
    monkeypatch.setattr(FigureWriter, "IN_PROCESS", 1)  # the first figure here, the others in the workers
    here, there = tmp_path / "here", tmp_path / "there"
    names = [save(_figure(seed), here, f"figure-{seed}") for seed in range(3)]
    with FigureWriter(2) as writer:
        assert [writer.save(_figure(seed), there, f"figure-{seed}") for seed in range(3)] == names
        assert writer._pool is not None
    for name in sum(names, []):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    assert sorted(p.name for p in there.iterdir()) == sorted(sum(names, []))


def test_a_workers_error_is_raised_when_the_writer_closes(tmp_path, monkeypatch):
    monkeypatch.setattr(FigureWriter, "IN_PROCESS", 0)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "figure.svg").mkdir()  # a folder where the file should go
    writer = FigureWriter(2)
    writer.save(_figure(0), blocked, "figure")
    with pytest.raises(IsADirectoryError):
        writer.close()
