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
])
def test_malformed_matrix_names_the_line(tmp_path, games, body, message):
    path = tmp_path / "matrix.toml"
    path.write_text(body)
    with pytest.raises(MatrixError) as error:
        load_matrix(path, games)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
