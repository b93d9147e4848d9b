"""Checks in threads (harness.base.parallel): the order, numbers and errors of a serial run."""

import threading
import time

import pytest

import harness  # noqa: F401
from harness.base.parallel import default_jobs, ordered_map
from harness.checks import CheckSpec, Settings, run_checks
from harness.flows import Flow
from harness.model.catalog import load_game
from harness.rules.schemes import Scheme


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
