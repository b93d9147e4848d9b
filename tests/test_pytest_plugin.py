"""The pytest plugin, used the way a user's project uses it: a throwaway project (pytester's temporary
folder, outside the repository) with its own game and tests that assert orders."""

import json
import textwrap

import pytest

pytest_plugins = ["pytester"]

GAME = '''
"""A cubic zero-sum game of the user's own project."""
from harness import Game

def energy(phi, theta):
    return phi[0] * theta[0] + 0.2 * phi[0] ** 3 * theta[0]

game = Game("cubic", energy, lambda phi, theta: -energy(phi, theta), [0.7], [0.4])
'''

TESTS = '''
from harness.pytest_plugin import assert_order
from my_game import game

def test_modified_flow_is_third_order(harness_check):
    result = harness_check(game, "alternating", "modified", expected=3, lr1=0.4, lr2=1.5, points=2)
    assert abs(result.fit.slope - 3) < 0.15

def test_gradient_flow_from_a_spec_string():
    assert_order("my_game.py:game", "simultaneous", "gradient", expected=2, points=2)

def test_official_convention_with_unequal_rates(harness_check):
    harness_check(game, "simultaneous", "official", expected=3, lr2=0.3, points=2)
'''


@pytest.fixture
def project(pytester):
    pytester.makepyfile(my_game=GAME, test_orders=TESTS)
    pytester.syspathinsert()
    return pytester


def test_the_plugin_is_registered_through_its_entry_point(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--harness-json=PATH*"])
    from importlib.metadata import entry_points

    assert [ep.value for ep in entry_points(group="pytest11") if ep.name == "harness"] == ["harness_pytest"]


def test_right_flow_passes_wrong_flow_fails_readably(project):
    result = project.runpytest("-p", "no:cacheprovider", "--harness-json", "out/results.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: order check failed: cubic · simultaneous(lr1=1, lr2=0.3) · official",
        "*expected: slope 3 ± 0.15 (status PASS); measured: slope 1.9* ± 0.0*, status FAIL",
        "*reasons: slope 1.9* is outside 3 ± 0.15",
        "*fit range: h from * to * (* of 20 errors used, reference dopri8)",
        "*worst point: initial point ? of 2 (*), z0 = *: its own slope 1.9*; local slope * between h = * and *",
        "*hint: the slope is one order short*",
        "harness: 3 order check(s), 1 not as expected; written to *results.json",
    ])
    # the traceback stops at the user's call: no frames from inside the harness
    assert "harness/api.py" not in result.stdout.str()

    document = json.loads((project.path / "out" / "results.json").read_text())
    assert document["schema_version"] == 1 and document["source"] == "pytest"
    assert document["summary"] == {"checks": 3, "passed": 2, "failed": 1, "statuses": {"PASS": 2, "FAIL": 1}}
    by_test = {entry["test"].split("::")[-1]: entry for entry in document["results"]}
    right = by_test["test_modified_flow_is_third_order"]
    wrong = by_test["test_official_convention_with_unequal_rates"]
    assert right["passed"] and abs(right["fitted_slope"] - 3) < 0.15
    assert right["scheme"]["name"] == "alternating" and right["flow"] == {"name": "modified", "order": 1}
    assert not wrong["passed"] and wrong["status"] == "FAIL" and abs(wrong["fitted_slope"] - 2) < 0.15
    assert abs(by_test["test_gradient_flow_from_a_spec_string"]["fitted_slope"] - 2) < 0.15
    for entry in document["results"]:
        assert len(entry["errors"]) == 2 and len(entry["step_sizes"]) == 10 and entry["settings"]["points"] == 2


def test_expected_status_and_slope_can_be_stated(project):
    project.makepyfile(test_more=textwrap.dedent('''
        from my_game import game

        def test_official_is_second_order_with_unequal_rates(harness_check):
            result = harness_check(game, "simultaneous", "official", expected=2, lr2=0.3, points=2)
            assert abs(result.fit.slope - 2) < 0.15

        def test_bad_input_is_an_error_not_a_failed_order(harness_check):
            harness_check("no_such_game", "simultaneous", "modified")
    '''))
    result = project.runpytest("test_more.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["harness: error: unknown game 'no_such_game'*"])
    assert "During handling" not in result.stdout.str()
    assert "written to" not in result.stdout.str()  # no --harness-json: nothing written


@pytest.mark.slow
def test_under_xdist_the_controller_writes_every_workers_results(project):
    result = project.runpytest_subprocess("-n", "2", "--harness-json", "results.json")
    result.assert_outcomes(passed=2, failed=1)
    document = json.loads((project.path / "results.json").read_text())
    assert document["summary"]["checks"] == 3 and document["summary"]["failed"] == 1


def test_bad_input_in_a_test_fails_it_with_one_line_and_no_internal_traceback(pytester):
    pytester.makepyfile(test_bad='''
        def test_unknown_flow(harness_check):
            harness_check("dirac_gan", "simultaneous", "no_such_flow")

        def test_missing_game_file(harness_check):
            harness_check("nowhere.py:game")
    ''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*harness: error: unknown flow 'no_such_flow'; choose one of*",
                                 "*harness: error: game file '*nowhere.py' does not exist*"])
    assert "harness/" not in result.stdout.str() and "Traceback" not in result.stdout.str()


def test_an_expectation_that_contradicts_the_flow_gets_a_hint_about_the_expectation():
    from harness.pytest_plugin import assert_order

    with pytest.raises(AssertionError, match="hint: the measured slope matches what a flow of order 0 and this rule "
                                             "give \\(2\\); is the expectation 3 right\\?"):
        assert_order("dirac_gan", "simultaneous", "gradient", expected=3, points=2)
    with pytest.raises(AssertionError, match="hint: the slope is one order short"):
        assert_order("bilinear", "simultaneous", "official", expected=3, lr2=0.3, points=2)
