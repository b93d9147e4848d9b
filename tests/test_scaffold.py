"""`harness new-game`: the file it writes passes `harness check` as written; bad names and existing files
are refused in one line with exit code 2."""

import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.cli import main
from harness.model.game import GameError
from harness.model.scaffold import render, write_game


def harness_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_the_written_game_passes_harness_check_as_written(tmp_path, capsys):
    # the command line in this process (a fresh one would start JAX again for each command); the console script
    # itself: test_a_bad_name_is_one_line_and_exit_2_through_the_command
    assert main(["new-game", "spiral", "--path", str(tmp_path / "mine")]) == 0
    made = capsys.readouterr()
    path = tmp_path / "mine" / "spiral.py"
    assert f"wrote {path}" in made.out and f"harness check --game {path}:game" in made.out, made
    text = path.read_text()
    assert text.count("EDIT HERE") >= 4 and 'Game(\n    "spiral"' in text

    code = main(["check", "--game", f"{path}:game"])
    checked = capsys.readouterr()
    assert code == 0, checked.out + checked.err
    lines = [line for line in checked.out.splitlines() if "spiral" in line]
    assert len(lines) == 2 and all(line.startswith("PASS  PASS") for line in lines)
    slopes = {line.split("·")[-1].strip(): float(line.split()[2]) for line in lines}
    assert abs(slopes["gradient"] - 2) < 0.15 and abs(slopes["modified"] - 3) < 0.15


def test_outside_the_repository_the_default_is_the_working_directory_and_existing_files_are_refused(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no catalog here: ./harness/games/mine.py would not be in `harness list`
    assert main(["new-game", "mine"]) == 0 and (tmp_path / "mine.py").is_file()
    assert not (tmp_path / "harness").exists()
    assert capsys.readouterr().out == ("wrote mine.py outside the catalog; edit the places marked EDIT HERE, then "
                                       "run: harness check --game mine.py:game\n")
    before = (tmp_path / "mine.py").read_text()
    assert main(["new-game", "mine"]) == 2
    assert capsys.readouterr().err == ("harness: error: mine.py already exists; choose another name or "
                                       "--path (nothing was written)\n")
    assert (tmp_path / "mine.py").read_text() == before


def test_from_the_repository_root_the_default_is_the_catalog(monkeypatch):
    from harness.model.scaffold import in_catalog, target_path

    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    assert target_path("spiral_x") == Path("harness/games/spiral_x.py") and in_catalog(target_path("spiral_x"))


def test_a_bad_name_is_one_line_and_exit_2_through_the_command(tmp_path):
    result = harness_cli("new-game", "my-game", "--path", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "harness: error: game name 'my-game' is not a Python identifier (letters, digits and _, not starting with a "
        "digit)"]


@pytest.mark.parametrize("name", ["1game", "my-game", "class", "a b", ""])
def test_names_must_be_python_identifiers(name, tmp_path, capsys):
    assert main(["new-game", name, "--path", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and ("identifier" in error or "keyword" in error)
    assert not any(tmp_path.iterdir())


def test_a_py_path_is_the_file_itself_and_the_game_loads_in_python(tmp_path):
    path = write_game("ring", tmp_path / "deep" / "folder" / "ring_game.py")
    assert path == tmp_path / "deep" / "folder" / "ring_game.py"
    game = harness.load(f"{path}:game")
    assert game.name == "ring" and game.kind == "two-player" and game.dims == (2, 2)
    assert not game.is_affine()  # nonlinear: the scaffold exercises the Dopri8 reference
    assert game.description.startswith("ring: EDIT HERE")


def test_the_catalog_refuses_a_name_it_already_has():
    catalog_folder = Path(harness.__file__).resolve().parent / "games"
    target = catalog_folder / "zz_scaffold_test_never_written.py"
    with pytest.raises(GameError, match="already has a game named 'bilinear'"):
        write_game("bilinear", target)
    assert not target.exists()


def test_the_template_is_clean_python():
    compile(render("name", "harness/games/name.py"), "harness/games/name.py", "exec")
