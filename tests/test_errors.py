"""The error classes: one base, one class per kind of bad input, each raised where that input is read and each
one line and exit 2 on the command line; statuses as an enumeration whose JSON is the status words."""

import json
import re

import pytest

import harness
import harness.checks
import harness.model.game
from harness.base.errors import FlowError, GameError, HarnessError, MatrixError, ResultsError, RuleError, UsageError
from harness.base.status import Status
from harness.checks import CheckSpec, load_matrix
from harness.checks.shards import merge
from harness.cli import main
from harness.flows import Flow
from harness.model.user import load
from harness.rules.schemes import Scheme

CLASSES = (GameError, RuleError, FlowError, MatrixError, ResultsError, UsageError)


def test_every_class_is_a_harness_error_and_caught_by_game_error_as_before():
    for kind in CLASSES:
        assert issubclass(kind, HarnessError) and issubclass(kind, GameError) and issubclass(kind, ValueError)
        assert getattr(harness, kind.__name__) is kind
    assert harness.model.game.GameError is GameError and harness.checks.MatrixError is MatrixError


@pytest.fixture
def bad(tmp_path):
    """Inputs that each class refuses: a rule file and a flow file without the named function, a matrix with an
    unknown key, a file that is not a shard's results."""
    (tmp_path / "rules.py").write_text("def other(V, z, h):\n    return z\n")
    (tmp_path / "flows.py").write_text("def other(V, z, h):\n    return V(z)\n")
    (tmp_path / "matrix.toml").write_text('[[check]]\ngames = ["dirac_gan"]\nscheme = "simultaneous"\n'
                                          'flows = ["gradient"]\ncolour = "red"\n')
    (tmp_path / "part.json").write_text(json.dumps({"results": []}))
    return tmp_path


CASES = [  # (class, what raises it in Python, the command line refusing the same input, its message)
    (GameError, lambda d: harness.load("no_such_game"), ["check", "--game", "no_such_game"], "unknown game"),
    (RuleError, lambda d: load(f"{d}/rules.py:missing", "rule"),
     ["check", "--game", "dirac_gan", "--scheme", "{d}/rules.py:missing"], "defines no rule 'missing'"),
    (FlowError, lambda d: Flow(f"{d}/flows.py:missing"),
     ["check", "--game", "dirac_gan", "--flow", "{d}/flows.py:missing"], "defines no flow 'missing'"),
    (MatrixError, lambda d: load_matrix(d / "matrix.toml"), ["check", "--all", "--matrix", "{d}/matrix.toml"],
     r"unknown key\(s\) colour"),
    (ResultsError, lambda d: merge([str(d / "part.json")]), ["check", "--merge", "{d}/part.json"],
     "is not a shard's results"),
    (UsageError, lambda d: CheckSpec("dirac_gan", Scheme("simultaneous"), Flow("gradient"), horizon=3.0),
     ["check", "--game", "dirac_gan", "--horizon", "3"], "goes with (--)?measure global"),
]


@pytest.mark.parametrize("kind, python, argv, message", CASES, ids=[case[0].__name__ for case in CASES])
def test_each_class_is_raised_for_its_input_and_is_one_line_and_exit_2_on_the_command_line(
        bad, capsys, kind, python, argv, message):
    with pytest.raises(kind, match=message) as raised:
        python(bad)
    assert raised.type is kind
    try:
        code = main([part.format(d=bad) for part in argv])
    except SystemExit as exc:  # argparse's own refusal of a flag value (a rule or flow file)
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("harness: error: ") and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err


def test_statuses_are_their_words_in_results_and_json():
    assert [status.value for status in Status] == ["PASS", "FAIL", "EXACT", "FLOOR-LIMITED", "REFERENCE-LIMITED",
                                                   "PRE-ASYMPTOTIC", "DIVERGED"]
    assert harness.checks.STATUSES == tuple(Status)
    document = {"status": Status.PRE_ASYMPTOTIC, "statuses": {Status.PASS: 2}, "list": [Status.FLOOR_LIMITED]}
    assert json.dumps(document) == '{"status": "PRE-ASYMPTOTIC", "statuses": {"PASS": 2}, "list": ["FLOOR-LIMITED"]}'
    assert (str(Status.FAIL), f"{Status.FAIL}", repr(Status.FAIL)) == ("FAIL", "FAIL", "'FAIL'")
    assert Status("EXACT") is Status.EXACT and Status.EXACT == "EXACT"
