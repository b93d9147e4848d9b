"""No silent wrong verdict, no destroyed file: edited shard and partial-results files are refused (their
verdicts recomputed from their stored errors), a corrupt partial line costs only its own check, `report --out`,
`cache clear` and `--json` never replace or remove what the harness did not write, and an unusable cache folder
or cap turns into one warning line."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_shards import TINY

from harness.checks import Settings, load_matrix, run_checks
from harness.checks.resume import PartialRun, verdict_disagreement
from harness.cli import main
from harness.report import MARKER, claim

ROOT = Path(__file__).resolve().parents[1]
DIRAC = """
[settings]
points = 2
step_sizes = 5

[[check]]
games = ["dirac_gan"]
scheme = "simultaneous"
rates = [[1, 1], [1, 0.3]]
flows = ["gradient", "modified"]
"""
"""Four quick checks on one game (for the partial-results file of --resume)."""


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- 5. stored verdicts are recomputed from the stored errors ---------------------------------------------


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    (folder / "matrix.toml").write_text(TINY)
    for index in (1, 2):
        assert main(["check", "--all", "--matrix", str(folder / "matrix.toml"), "--shard", f"{index}/2", "--json",
                     str(folder / f"part-{index}.json"), "--quiet"]) == 0
    return folder


def edit_slope_to_one(entry: dict) -> None:
    """The stored verdict says PASS at slope 1.000 (expected slope left as it was)."""
    entry["fitted_slope"], entry["status"], entry["passed"] = 1.0, "PASS", True


def edit_errors(entry: dict) -> None:
    """Errors of slope one less (each divided by its step size): they do not give the stored slope."""
    entry["errors"] = [[None if e is None else e / h for e, h in zip(row, entry["step_sizes"], strict=True)]
                       for row in entry["errors"]]


def edit_expected(entry: dict) -> None:
    """The expectation moved to the measured slope's neighbourhood, as if the check expected it."""
    entry["expected_slope"] = round(entry["fitted_slope"]) + 1.0
    entry["fitted_slope"] = entry["expected_slope"]


def edit_status(entry: dict) -> None:
    """A passing check's verdict turned (status only)."""
    entry["status"], entry["passed"] = "FAIL", False


EDITS = {"slope": edit_slope_to_one, "errors": edit_errors, "expected slope": edit_expected, "status": edit_status}


@pytest.mark.parametrize("edit", EDITS)
@pytest.mark.parametrize("command", ["check", "report"])
def test_merge_refuses_a_shard_whose_verdict_was_edited(edit, command, shards, tmp_path, capsys):
    document = json.loads((shards / "part-2.json").read_text())
    entry = document["results"][1]
    assert entry["status"] == "PASS" and abs(entry["fitted_slope"] - entry["expected_slope"]) < 0.15
    EDITS[edit](entry)
    edited = tmp_path / "part-2.json"
    edited.write_text(json.dumps(document))
    files = [str(shards / "part-1.json"), str(edited)]
    argv = ["check", "--merge", *files] if command == "check" else ["report", "--from", *files, "--out",
                                                                      str(tmp_path / "report")]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and "PASS" not in out and "FAIL" not in out
    line = one_line(err)
    assert line.startswith(f"harness: error: cannot merge: {edited}, check ") and entry["game"] in line, line
    if edit == "expected slope":
        assert "is not the check its shard ran" in line and "expected slope" in line
    else:
        assert "is not what its stored errors give" in line
    assert not (tmp_path / "report").exists()


def test_the_verdict_is_recomputed_with_the_projects_own_fit(shards):
    from harness.checks import CheckResult

    document = json.loads((shards / "part-1.json").read_text())
    entry = document["results"][0]
    result = CheckResult.from_dict(entry, Settings(**document["settings"]))
    assert verdict_disagreement(result) is None
    edit_slope_to_one(entry)
    message = verdict_disagreement(CheckResult.from_dict(entry, Settings(**document["settings"])))
    expected = document["results"][0]["expected_slope"]
    assert re.fullmatch(rf"its stored verdict \(PASS, slope 1, expected {expected:g}\) is not what its stored "
                        rf"errors give \(PASS, slope [\d.]+\): the file was edited or damaged", message), message


@pytest.fixture(scope="module")
def dirac(tmp_path_factory, games):
    """The DIRAC matrix's specs, settings and results (run once)."""
    folder = tmp_path_factory.mktemp("dirac")
    (folder / "matrix.toml").write_text(DIRAC)
    selected = {"dirac_gan": games["dirac_gan"]}
    settings, specs = load_matrix(folder / "matrix.toml", selected)
    return folder / "matrix.toml", selected, settings, specs, run_checks(specs, selected, settings)


def partial_lines(tmp_path, dirac) -> tuple[Path, list[str], list[str]]:
    """A partial-results file of the DIRAC run with its four checks saved, its path and lines, and the CLI
    arguments that resume it."""
    matrix, selected, settings, specs, results = dirac
    partial = PartialRun(tmp_path / "out.json.partial", specs, settings, selected)
    partial.begin(results)
    args = ["check", "--all", "--game", "dirac_gan", "--matrix", str(matrix), "--json", str(tmp_path / "out.json"),
            "--resume", "--quiet"]
    return partial.path, partial.path.read_text().splitlines(), args


@pytest.mark.parametrize("edit", EDITS)
def test_resume_refuses_a_partial_file_whose_verdict_was_edited(edit, dirac, tmp_path, capsys):
    path, lines, args = partial_lines(tmp_path, dirac)
    entry = json.loads(lines[2])  # the second check, line 3
    EDITS[edit](entry)
    lines[2] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, *args)
    line = one_line(err)
    assert code == 2 and "PASS" not in out and "FAIL" not in out and not (tmp_path / "out.json").exists()
    assert line.startswith(f"harness: error: cannot resume from {path}: line 3, check dirac_gan · "), line
    assert line.endswith("run without --resume to start over")
    if edit == "expected slope":
        assert "its stored expectation (slope" in line and "the file was edited" in line
    else:
        assert "is not what its stored errors give" in line


# --- 9. a corrupt line in the middle of a partial-results file ----------------------------------------------


def test_a_corrupt_middle_line_is_reported_and_the_saved_lines_after_it_kept(dirac, tmp_path, capsys):
    path, lines, args = partial_lines(tmp_path, dirac)
    saved = [json.loads(line) for line in lines[1:]]
    for entry in saved:
        entry["seconds"] = 1234.5  # not part of the verdict: marks the checks that were not run again
    lines[1:] = [json.dumps(entry) for entry in saved]
    lines[2] = lines[2][: len(lines[2]) // 2]  # line 3 (the second check) corrupt
    path.write_text("\n".join(lines) + "\n")
    notes = []
    loaded = PartialRun(path, dirac[3], dirac[2], dirac[1]).load(notes.append)
    assert [r.spec for r in loaded] == [dirac[3][i] for i in (0, 2, 3)]
    assert notes == [f"{path}: line 3 is not a saved check (corrupt): its check runs again; the 2 saved checks after "
                     "it are kept"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert f"harness: {notes[0]}" in err.splitlines() and "resuming: 3 of 4 checks loaded" in err
    written = json.loads((tmp_path / "out.json").read_text())["results"]
    assert [r["seconds"] == 1234.5 for r in written] == [True, False, True, True]  # only line 3's check ran again
    fresh = [r.to_dict() for r in dirac[4]]
    assert [{**r, "seconds": 0} for r in written] == [{**r, "seconds": 0} for r in fresh]
    assert not path.exists()


def test_a_last_line_cut_short_is_dropped_silently(dirac, tmp_path):
    path, lines, _ = partial_lines(tmp_path, dirac)
    path.write_text("\n".join(lines[:-1] + [lines[-1][:40]]))  # no newline: what SIGKILL leaves
    notes = []
    loaded = PartialRun(path, dirac[3], dirac[2], dirac[1]).load(notes.append)
    assert [r.spec for r in loaded] == dirac[3][:3] and notes == []


# --- 6. report --out writes only into its own folders --------------------------------------------------------


def test_report_out_refuses_a_folder_of_the_users_files(shards, tmp_path, capsys):
    docs = tmp_path / "docs"
    (docs / "figures").mkdir(parents=True)
    (docs / "index.md").write_text("# My project\n")
    (docs / "figures" / "diagram.svg").write_text("<svg>mine</svg>")
    before = snapshot(docs)
    code, _, err = run_cli(capsys, "report", "--from", str(shards / "part-*.json"), "--out", str(docs), "--quiet")
    assert code == 2 and snapshot(docs) == before
    assert one_line(err) == (f"harness: error: --out {docs} holds files harness report did not write (figures, "
                             f"index.md): they could be replaced; give a new or empty folder (a folder harness report "
                             f"wrote has a {MARKER} file)")
    code, _, err = run_cli(capsys, "report", "--from", str(shards / "part-*.json"), "--out", str(docs / "index.md"))
    assert code == 2 and snapshot(docs) == before
    assert one_line(err) == (f"harness: error: --out {docs / 'index.md'} is a file, not a folder: give a folder for "
                             "the report")


def test_report_out_writes_into_an_empty_folder_and_again_into_its_own(shards, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run_cli(capsys, "report", "--from", str(shards / "part-*.json"), "--out", str(out), "--quiet")
    assert code == 0, err
    assert (out / MARKER).is_file() and (out / "index.md").is_file() and not (out / ".staging").exists()
    (out / "figures" / "old_game-error-gd.svg").write_text("<svg/>")  # an earlier report's figure
    code, _, err = run_cli(capsys, "report", "--from", str(shards / "part-*.json"), "--out", str(out), "--quiet")
    assert code == 0, err
    assert not (out / "figures" / "old_game-error-gd.svg").exists()


def test_the_committed_reference_report_is_a_report_folder():
    reference = ROOT / "reports" / "reference"
    before = snapshot(reference)
    claim(reference)  # `harness report --out reports/reference` regenerates it
    assert (reference / MARKER).is_file() and snapshot(reference) == before


# --- 7. cache clear removes the caches' entries only ---------------------------------------------------------


def harness_process(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


def test_cache_clear_leaves_the_users_files_in_the_cache_folder(tmp_path):
    cache = tmp_path / "mine"
    (cache / "kernels").mkdir(parents=True)
    (cache / "photos").mkdir()
    (cache / "notes.txt").write_text("mine")
    (cache / "photos" / "a.jpg").write_bytes(b"\xff\xd8")
    (cache / "backup-cache").write_text("mine, named like a cache")
    (cache / "kernels" / "README").write_text("mine too")
    theirs = {f"jit_f-{'a' * 64}-cache": b"x" * 10, f"jit_f-{'a' * 64}-atime": b"t" * 8, ".lockfile": b"",
              f"kernels/{'b' * 64}.jaxexport": b"k" * 100,
              "xla_gpu_per_fusion_autotune_cache_dir/entry.textproto": b"a" * 4}
    for name, data in theirs.items():
        (cache / name).parent.mkdir(exist_ok=True)
        (cache / name).write_bytes(data)
    mine = {name: data for name, data in snapshot(cache).items() if name not in theirs}
    result = harness_process("cache", "clear", env={"HARNESS_CACHE_DIR": str(cache)})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith(f"removed 5 files (0.0 MB) from {cache}")
    assert snapshot(cache) == mine and not (cache / "xla_gpu_per_fusion_autotune_cache_dir").exists()


# --- 8. --json replaces only a regular file that is not an input --------------------------------------------


QUICK = ["--game", "dirac_gan", "--points", "1", "--step-sizes", "4", "--flow", "gradient", "--quiet"]


def test_json_refuses_a_symbolic_link_and_leaves_its_target(tmp_path, capsys):
    target, link = tmp_path / "target.txt", tmp_path / "r.json"
    target.write_text("keep me\n")
    link.symlink_to(target)
    code, _, err = run_cli(capsys, "check", *QUICK, "--json", str(link))
    assert code == 2 and "symbolic link" in one_line(err)
    assert target.read_text() == "keep me\n" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "target.txt"]


def test_json_refuses_a_folder_and_a_device_without_leftovers(tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "old.json").write_text("{}")
    code, _, err = run_cli(capsys, "check", *QUICK, "--json", str(folder))
    assert code == 2 and one_line(err) == (f"harness: error: --json {folder} is a folder: give a file path, e.g. "
                                           f"{folder / 'results.json'}")
    assert snapshot(tmp_path) == {"results/old.json": b"{}"}
    code, _, err = run_cli(capsys, "check", *QUICK, "--json", os.devnull)
    assert code == 2 and "is not a regular file" in one_line(err)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.parametrize("which", ["matrix", "game"])
def test_json_refuses_the_runs_own_input(which, tmp_path, capsys):
    game = tmp_path / "my_game.py"
    game.write_text('from harness import Game\nMINE = Game("cubic", lambda p, t: p[0] * t[0] + 0.2 * p[0] ** 3 * t[0], '
                    'lambda p, t: -(p[0] * t[0] + 0.2 * p[0] ** 3 * t[0]), [0.7], [0.4])\n')
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(TINY)
    before = game.read_bytes(), matrix.read_bytes()
    if which == "matrix":
        argv = ["check", "--all", "--matrix", str(matrix), "--json", str(matrix), "--quiet"]
    else:
        argv = ["check", "--game", f"{game}:MINE", "--points", "1", "--json", str(game), "--quiet"]
    code, _, err = run_cli(capsys, *argv)
    path = matrix if which == "matrix" else game
    assert code == 2 and one_line(err) == (f"harness: error: --json {path} is one of the run's own input files "
                                           f"({path}): give another path")
    assert (game.read_bytes(), matrix.read_bytes()) == before
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_json_is_written_atomically_without_leftovers(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("previous\n")
    code, _, err = run_cli(capsys, "check", *QUICK, "--json", str(out))
    assert code == 0, err
    assert json.loads(out.read_text())["summary"]["checks"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


# --- 13. an unusable cache folder or cap: one warning line, and the run goes on ------------------------------


def unusable_folders(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a-file").write_text("not a folder")
    readonly = tmp_path / "read-only"
    readonly.mkdir()
    readonly.chmod(0o555)
    if os.geteuid() == 0:  # root writes into any folder: take one no process can write into
        readonly = Path("/proc")
    return {"read-only": readonly, "a file": tmp_path / "a-file", "under a file": tmp_path / "a-file" / "cache"}


WARNING = (r"harness: warning: the cache folder {} cannot be used \(.+\); running without the caches \(set "
           r"HARNESS_CACHE_DIR to a writable folder, or to off\)\n")


def test_a_read_only_cache_folder_is_one_warning_and_the_run_goes_on(tmp_path):
    folder = unusable_folders(tmp_path)["read-only"]
    result = harness_process("check", *QUICK, env={"HARNESS_CACHE_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(WARNING.format(re.escape(str(folder))), result.stderr), result.stderr
    assert result.stdout.splitlines()[-1] == "1 checks: 1 met their expectation, 0 did not"


@pytest.mark.parametrize("case", ["a file", "under a file"])
def test_a_cache_folder_that_cannot_be_a_folder_is_one_warning_and_the_caches_are_off(case, tmp_path):
    folder = unusable_folders(tmp_path)[case]
    result = harness_process("cache", "info", env={"HARNESS_CACHE_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(WARNING.format(re.escape(str(folder))), result.stderr), result.stderr
    assert result.stdout.startswith(f"the caches are off: {folder} cannot be used (")
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_a_cache_cap_that_is_not_a_number_is_named_in_one_line(tmp_path):
    result = harness_process("cache", "info", env={"HARNESS_CACHE_DIR": str(tmp_path / "cache"),
                                                   "HARNESS_CACHE_MAX_MB": "abc"})
    assert result.returncode == 0
    assert result.stderr == ("harness: warning: HARNESS_CACHE_MAX_MB='abc' is not a size in MB (a number >= 0); using "
                             "the default, 256 MB\n")
    assert "(at most 256.0 MB, HARNESS_CACHE_MAX_MB" in result.stdout
