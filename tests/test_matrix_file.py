"""Malformed check-matrix files are refused with the file and line of the bad entry."""

import pytest

from harness.checks import MatrixError, load_matrix


@pytest.mark.parametrize("body, message", [
    ('[[check]]\nscheme = "simultaneous"\nflows = ["gradient"]\n\n[[check]]\nscheme = "adam"\nflows = ["gradient"]\n',
     ":5: unknown scheme 'adam'"),
    ('[[check]]\nscheme = "simultaneous"\nflows = ["bea:x"]\n', ":1: unknown flow 'bea:x'"),
    ('[[check]]\nscheme = "simultaneous"\nflows = ["gradient"]\nrates = [[1, -2]]\n', ":1: lr2 must be"),
    ('[[check]]\nscheme = "simultaneous"\nflow = ["gradient"]\n', ":1: unknown key(s) flow"),
    ('[[check]]\nscheme = "simultaneous"\nflows = ["gradient"]\ngames = ["nope"]\n', ":1: unknown game(s) nope"),
    ('[[check]\nscheme = 1\n', "line 1"),
    ('[settings]\npoints = 0\n', "points must be at least 1"),
    ('[[check]]\nscheme = "simultaneous"\nstrengthen = 1\nflows = ["gradient"]\n',
     ":1: strengthen applies to regularised only"),
    ('[[check]]\nscheme = "simultaneous"\nmeasure = "globl"\nflows = ["gradient"]\n', ":1: unknown measure 'globl'"),
])
def test_malformed_matrix_names_the_line(tmp_path, games, body, message):
    path = tmp_path / "matrix.toml"
    path.write_text(body)
    with pytest.raises(MatrixError) as error:
        load_matrix(path, games)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_matrix_keys_of_the_global_measure_and_the_regulariser(tmp_path, games):
    path = tmp_path / "matrix.toml"
    path.write_text('[[check]]\ngames = ["dirac_gan"]\nscheme = "regularised"\nstrengthen = 1\n'
                    'convention = "official"\nflows = ["modified"]\n\n'
                    '[[check]]\ngames = ["rosenbrock"]\nscheme = "gd"\nmeasure = "global"\nhorizon = 2\n'
                    'flows = ["igr"]\n')
    _, (regularised, global_error) = load_matrix(path, games)
    scheme = regularised.scheme
    assert (scheme.strengthen, scheme.convention, scheme.cancel) == (1.0, "official", 1.0)
    assert (global_error.measure, global_error.horizon, global_error.expected_slope) == ("global", 2.0, 2.0)
