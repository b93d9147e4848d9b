"""Checks in threads and processes (harness.base.parallel): the order, numbers and errors of a serial run."""

import sys
import threading
import time

import pytest

import harness
from harness.base import parallel
from harness.base.parallel import MAX_JOBS, PROCESS_EVENT, Processes, default_jobs, ordered_map
from harness.checks import CheckSpec, Settings, run, run_check, run_checks
from harness.checks.run import _processes
from harness.flows import Flow
from harness.model.catalog import load_game
from harness.model.game import Game
from harness.rules.schemes import Scheme

STARTED: list[str] = []
"""The helper processes started in this test process (PROCESS_EVENT)."""
sys.addaudithook(lambda event, _: STARTED.append(event) if event == PROCESS_EVENT else None)


def test_results_come_in_order_and_a_group_runs_in_one_thread_at_a_time():
    running: dict[str, int] = {}
    overlap = []
    lock = threading.Lock()

    def task(item):
        with lock:
            running[item[0]] = running.get(item[0], 0) + 1
            overlap.append(running[item[0]])
        time.sleep(0.01 * (3 - int(item[1])))  # later items finish sooner
        with lock:
            running[item[0]] -= 1
        return item.upper()

    items = ["a0", "b0", "a1", "c0", "b1", "a2", "c1", "b2"]
    assert list(ordered_map(task, items, 3, lambda item: item[0])) == [item.upper() for item in items]
    assert max(overlap) == 1


def test_an_error_reaches_the_consumer_at_its_items_place():
    def task(item):
        if item == 3:
            raise ValueError("item 3")
        return item

    seen = []
    with pytest.raises(ValueError, match="item 3"):
        for value in ordered_map(task, range(6), 2, lambda item: item % 2):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_closing_early_stops_the_threads_after_their_current_item():
    started = []

    def task(item):
        started.append(item)
        time.sleep(0.05)
        return item

    iterator = ordered_map(task, list(range(40)), 2, lambda item: item % 2)
    assert next(iterator) == 0
    iterator.close()
    time.sleep(0.2)
    count = len(started)
    time.sleep(0.2)
    assert len(started) == count < 10


def test_jobs_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        list(ordered_map(str, [1], 0, str))
    assert 1 <= default_jobs() <= 4


def test_the_default_jobs_are_harness_jobs_when_it_is_a_whole_number(monkeypatch, capsys):
    monkeypatch.delenv("HARNESS_JOBS", raising=False)
    cpus = default_jobs()
    monkeypatch.setenv("HARNESS_JOBS", "3")
    assert default_jobs() == 3
    monkeypatch.setenv("HARNESS_JOBS", "64")
    assert default_jobs() == MAX_JOBS
    for bad in ("two", "0", "-1"):
        monkeypatch.setenv("HARNESS_JOBS", bad)
        assert default_jobs() == cpus
        assert capsys.readouterr().err == (f"harness: warning: HARNESS_JOBS={bad!r} is not a number of jobs (a whole "
                                           "number >= 1); using the CPUs available\n")


_OFFSET: list[int] = []
"""A helper process's state (``_setup``)."""


def _setup(offset: int) -> None:
    _OFFSET.append(offset)


def _square_plus(item: int) -> int:
    time.sleep(0.1)  # long enough for a helper to start
    if item == 7:
        raise ValueError("item 7")
    return item * item + (_OFFSET[0] if _OFFSET else 1000)


def _run(positions: list[int]) -> list:
    outcomes = []
    for position in positions:
        try:
            outcomes.append((True, _square_plus(position)))
        except ValueError as exc:
            outcomes.append((False, exc))
            break
    return outcomes


def test_a_helper_process_runs_whole_groups_and_its_results_and_errors_come_in_order(monkeypatch):
    """The parent adds 1000, the process (set up with 2000) 2000: which ran where shows in the values."""
    monkeypatch.setattr(parallel, "STAGGER", 0.01)
    started = len(STARTED)
    seen = []
    with pytest.raises(ValueError, match="item 7"):
        for value in ordered_map(_square_plus, range(12), 2, lambda item: item % 3, Processes(_setup, (2000,), _run)):
            seen.append(value)
    assert len(STARTED) == started + 1
    assert [value % 1000 for value in seen] == [item * item % 1000 for item in range(7)]
    in_process = {item % 3 for item, value in enumerate(seen) if value >= 2000 + item * item}
    assert len(in_process) == 1  # one group (items i ≡ r mod 3) went to the process, whole
    assert all((value >= 2000 + item * item) == (item % 3 in in_process) for item, value in enumerate(seen))


def test_checks_in_two_threads_give_the_numbers_of_a_serial_run():
    """Kernels of three groups (closed-form GD, bea, extragradient) on two games, built concurrently."""
    games = {name: load_game(name) for name in ("bilinear", "dirac_gan")}
    specs = [CheckSpec(name, scheme, Flow(flow)) for name in games
             for scheme, flow in ((Scheme("alternating", 1.0, 0.3, 2, 1), "modified"),
                                  (Scheme("simultaneous", 1.0, 0.3), "bea:1"),
                                  (Scheme("extragradient", 1.0, 0.3), "modified"),
                                  (Scheme("simultaneous", 0.4, 1.5), "gradient"))]
    settings = Settings(points=2, step_sizes=5)
    serial, threaded = (run_checks(specs, games, settings, jobs=jobs) for jobs in (1, 2))

    def numbers(result):
        return {key: value for key, value in result.to_dict().items() if key != "seconds"}

    assert [numbers(r) for r in threaded] == [numbers(r) for r in serial]
    assert all(r.passed for r in serial)


def test_checks_in_a_helper_process_give_the_numbers_of_a_serial_run(monkeypatch):
    """The catalog's games: the helper thread hands its units to a spawned process. It starts as soon as a check
    runs, and the checks here are slowed, so that it takes the second game's unit while the first game's run:
    the kernels may be in memory already."""
    monkeypatch.setattr(parallel, "STAGGER", 0.0)
    games = {name: load_game(name) for name in ("bilinear", "dirac_gan")}
    specs = [CheckSpec(name, scheme, Flow(flow)) for name in games
             for scheme, flow in ((Scheme("simultaneous", 1.0, 0.3), "bea:1"),
                                  (Scheme("extragradient", 1.0, 0.3), "modified"))]
    settings = Settings(points=2, step_sizes=5)
    serial = run_checks(specs, games, settings)
    here = []

    def slowed(*args, **kwargs):
        here.append(1)
        time.sleep(0.5)
        return run_check(*args, **kwargs)

    monkeypatch.setattr(run, "run_check", slowed)
    elsewhere = run_checks(specs, games, settings, jobs=2, processes=True)
    assert 0 < len(here) < len(specs)  # the rest ran in the process

    def numbers(result):
        return {key: value for key, value in result.to_dict().items() if key != "seconds"}

    assert [numbers(r) for r in elsewhere] == [numbers(r) for r in serial]
    assert [r.fit.slope for r in serial] == pytest.approx([3.0, 3.0, 3.0, 3.0], abs=0.15)


def test_checks_stay_in_threads_for_a_game_or_flow_a_process_could_not_rebuild():
    bilinear = load_game("bilinear")
    specs = [CheckSpec("bilinear", Scheme("simultaneous"), Flow("modified"))]
    assert _processes(specs, {"bilinear": bilinear}, Settings(), [None], [None]) is not None
    own = Game(bilinear.name, bilinear.loss1, bilinear.loss2, bilinear.phi0, bilinear.theta0)
    assert _processes(specs, {"bilinear": own}, Settings(), [None], [None]) is None  # not the catalog's object

    @harness.flow(order=0)
    def mine(V, z, h):
        return V(z)

    users = [CheckSpec("bilinear", Scheme("simultaneous"), Flow.of(mine))]
    assert _processes(users, {"bilinear": bilinear}, Settings(), [None], [None]) is None
