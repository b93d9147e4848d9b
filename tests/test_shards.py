"""Sharding the check matrix across CI machines (harness.checks.shards): the shares, the merge, its refusals, and the
example workflow that runs the commands of docs/ci.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.checks import kernel_group, load_matrix, series_group, units
from harness.checks.shards import assign, parse_shard, select
from harness.cli import main
from harness.model.game import GameError

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "orders-sharded.yml"
SMALL = """
[settings]
points = 2
step_sizes = 5

[[check]]
games = ["dirac_gan"]
scheme = "simultaneous"
rates = [[1, 1], [1, 0.3]]
flows = ["gradient", "modified", "bea:1", "bea:2"]

[[check]]
games = ["bilinear", "dirac_gan"]
scheme = "alternating"
flows = ["modified"]

[[check]]
games = ["rosenbrock"]
scheme = "gd"
flows = ["gradient", "igr"]
"""
"""Three units (dirac_gan's closed-form and bea kernels, which share the rule's series; bilinear's; rosenbrock's)."""
TINY = """
[settings]
points = 1
step_sizes = 4

[[check]]
games = ["rosenbrock", "quadratic_objective"]
scheme = "gd"
flows = ["gradient", "igr"]
"""
"""Two units: the third of three shards is empty."""


def matrix(folder: Path, text: str, name: str = "matrix.toml") -> str:
    (folder / name).write_text(text)
    return str(folder / name)


def without_seconds(document: dict) -> dict:
    return {**document, "results": [{k: v for k, v in r.items() if k != "seconds"} for r in document["results"]]}


def run(*argv: str) -> int:
    return main([*argv, "--quiet"] if argv[0] == "check" and "--merge" not in argv else list(argv))


def test_three_shards_merged_equal_an_unsharded_run(tmp_path, capsys):
    small = matrix(tmp_path, SMALL)
    assert run("check", "--all", "--matrix", small, "--json", str(tmp_path / "whole.json")) == 0
    for index in (1, 2, 3):
        part = str(tmp_path / f"part-{index}.json")
        assert run("check", "--all", "--matrix", small, "--shard", f"{index}/3", "--json", part) == 0
    capsys.readouterr()
    assert main(["check", "--merge", str(tmp_path / "part-*.json"), "--json", str(tmp_path / "merged.json")]) == 0
    whole, merged = (json.loads((tmp_path / name).read_text()) for name in ("whole.json", "merged.json"))
    assert without_seconds(merged) == without_seconds(whole) and whole["summary"]["checks"] == 12
    assert [r["fitted_slope"] for r in merged["results"]] == [r["fitted_slope"] for r in whole["results"]]
    assert [round(r["fitted_slope"]) for r in merged["results"]] == [2, 3, 3, 4, 2, 3, 3, 4, 3, 3, 2, 3]
    parts = [json.loads((tmp_path / f"part-{i}.json").read_text())["shard"] for i in (1, 2, 3)]
    assert [part["positions"] for part in parts] == [list(range(8)) + [9], [10, 11], [8]]  # by estimated cost
    assert all(part["checks"] == 12 and part["count"] == 3 for part in parts)
    assert capsys.readouterr().out.splitlines()[-1] == "12 checks: 12 met their expectation, 0 did not"


def test_the_shares_keep_kernels_together_cover_the_matrix_and_are_balanced(games):
    settings, specs = load_matrix(None, games)
    shares = [select(specs, games, settings, index, 3) for index in (1, 2, 3)]
    assert shares == [select(specs, games, settings, index, 3) for index in (1, 2, 3)]  # deterministic
    positions = [entry["positions"] for _, entry in shares]
    assert sorted(p for share in positions for p in share) == list(range(len(specs)))
    for key in (kernel_group, series_group):
        owner: dict = {}
        for shard, share in enumerate(positions):
            for p in share:
                assert owner.setdefault(key(specs[p], games[specs[p].game]), shard) == shard
    estimated = [entry["estimated_share"] for _, entry in shares]
    assert abs(sum(estimated) - 1) < 1e-3 and max(estimated) < 0.36
    kernels = {kernel_group(spec, games[spec.game]) for spec in specs}
    assert len({spec.game for spec in specs}) < len(units(specs, games)) < len(kernels)  # finer than games


def test_longest_processing_time_first():
    assert assign([5, 4, 3, 3, 3], 2) == [0, 1, 1, 0, 1]  # loads 8 and 10
    assert assign([1, 1], 3) == [0, 1]  # the third shard has nothing


@pytest.mark.parametrize("text", ["0/3", "4/3", "x", "1/0", "3", "-1/3"])
def test_bad_shards_are_refused_in_one_line(text, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["check", "--all", "--shard", text])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and "argument --shard" in err
    if text != "x":
        with pytest.raises(GameError, match="1 <= I <= N|not a shard"):
            parse_shard(text)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The 3 shards of a tiny matrix, a shard of other settings, of another matrix and of another count."""
    folder = tmp_path_factory.mktemp("shards")
    tiny, other = matrix(folder, TINY), matrix(folder, TINY.replace('"igr"', '"gradient"'), "other.toml")
    for index in (1, 2, 3):
        assert run("check", "--all", "--matrix", tiny, "--shard", f"{index}/3", "--json",
                   str(folder / f"part-{index}.json")) == 0
    run("check", "--all", "--matrix", tiny, "--seed", "1", "--shard", "2/3", "--json", str(folder / "seed-2.json"))
    run("check", "--all", "--matrix", other, "--shard", "2/3", "--json", str(folder / "other-2.json"))
    run("check", "--all", "--matrix", tiny, "--shard", "2/2", "--json", str(folder / "half-2.json"))
    run("check", "--all", "--matrix", tiny, "--json", str(folder / "whole.json"))
    version = json.loads((folder / "part-2.json").read_text())
    version["shard"]["harness"] = "0.0.1"
    (folder / "version-2.json").write_text(json.dumps(version))
    shutil.copy(folder / "part-1.json", folder / "copy-1.json")
    return folder


REFUSALS = {
    "settings": (["part-1.json", "seed-2.json", "part-3.json"],
                 r"cannot merge shards run with different settings: \S+part-1.json and \S+seed-2.json differ in seed"),
    "version": (["part-1.json", "version-2.json", "part-3.json"],
                r"cannot merge shards of different harness versions: \S+part-1.json \(0.1.0\) and \S+version-2.json "
                r"\(0.0.1\)"),
    "matrix": (["part-1.json", "other-2.json", "part-3.json"],
               r"cannot merge shards of different check matrices: \S+part-1.json and \S+other-2.json \(their checks "
               r"or games differ\)"),
    "count": (["part-1.json", "half-2.json"],
              r"cannot merge shards of different counts: \S+part-1.json is shard 1/3, \S+half-2.json is shard 2/2"),
    "duplicate": (["part-*.json", "copy-1.json"], r"shard 1/3 is given twice: \S+part-1.json and \S+copy-1.json"),
    "missing": (["part-1.json", "part-3.json"],
                r"cannot merge: shard 2/3 missing \(given: 1/3 \S+part-1.json, 3/3 \S+part-3.json\)"),
    "not a shard": (["whole.json"], r"\S+whole.json is not a shard's results \(harness check --all --shard I/N "
                    r"--json PATH writes them\)"),
    "no file": (["nothing-*.json"], r"no shard file matches '\S+nothing-\*.json'"),
}


@pytest.mark.parametrize("case", REFUSALS)
@pytest.mark.parametrize("command", ["check", "report"])
def test_merging_refuses_in_one_line_with_exit_2(case, command, tiny, tmp_path, capsys):
    names, message = REFUSALS[case]
    files = [str(tiny / name) for name in names]
    argv = ["check", "--merge", *files] if command == "check" else ["report", "--from", *files, "--out",
                                                                      str(tmp_path / "report")]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.fullmatch(r"harness: error: " + message, err.strip()), err
    assert not (tmp_path / "report").exists()


def test_merge_goes_without_running_flags(tiny, capsys):
    assert main(["check", "--merge", str(tiny / "part-*.json"), "--all", "--seed", "2"]) == 2
    assert capsys.readouterr().err.strip() == ("harness: error: --merge merges shard files as they were run: leave out "
                                              "--all, --seed")
    assert main(["check", "--merge", str(tiny / "part-*.json")]) == 0  # the files of a shell's glob work as well
    assert main(["check", "--merge", *map(str, sorted(tiny.glob("part-*.json")))]) == 0


def test_the_report_from_shards_is_the_report_of_the_unsharded_run(tiny, tmp_path):
    assert main(["report", "--from", str(tiny / "part-*.json"), "--out", str(tmp_path / "merged"), "--quiet"]) == 0
    assert main(["report", "--matrix", str(tiny / "matrix.toml"), "--out", str(tmp_path / "whole"), "--quiet"]) == 0
    merged, whole = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("merged", "whole"))
    assert without_seconds(merged) == without_seconds(whole) and merged["summary"]["checks"] == 4
    assert (tmp_path / "merged" / "index.md").read_text() == (tmp_path / "whole" / "index.md").read_text()
    figures = sorted(p.name for p in (tmp_path / "whole" / "figures").glob("*.svg"))
    assert figures == sorted(p.name for p in (tmp_path / "merged" / "figures").glob("*.svg"))
    assert {name.split("-")[0] for name in figures} == {"quadratic_objective", "rosenbrock"}
    for name in figures:
        assert (tmp_path / "merged/figures" / name).read_bytes() == (tmp_path / "whole/figures" / name).read_bytes()


# --- the example workflow -------------------------------------------------------------------------------


def documented_commands() -> list[str]:
    from test_readme import blocks, commands

    block = next(b for b in blocks() if b.language == "bash" and "--shard" in b.text)
    return [c.line.split(" #")[0].strip() for c in commands(block)]


def workflow_runs(shards: list[int]) -> list[str]:
    """The workflow's commands, the shard job's once per shard of its job matrix."""
    text = WORKFLOW.read_text()
    shard_job, merge_job = text.split("\n  merge:\n")
    runs = [re.findall(r"^\s*(?:-\s+)?run:\s*(.+)$", job, re.M) for job in (shard_job, merge_job)]
    expanded = [line.replace("${{ matrix.shard }}", str(i)).replace("${{ strategy.job-total }}", str(len(shards)))
                for i in shards for line in runs[0] if "harness" in line]
    return expanded + [line for line in runs[1] if "harness" in line]


def test_the_sharded_workflow_runs_the_documented_commands():
    text = WORKFLOW.read_text()
    shards = [int(n) for n in re.search(r"^\s+shard: \[([\d, ]+)\]$", text, re.M).group(1).split(",")]
    assert shards == [1, 2, 3]
    assert workflow_runs(shards) == documented_commands()
    assert "\t" not in text and "pip install -e '.[test]'" in text and "merge-multiple: true" in text


def test_the_sharded_workflow_is_valid_yaml_and_shown_in_docs_ci():
    from test_readme import blocks

    shown = [b.text for b in blocks() if b.heading == "Using it in CI" and b.language == "yaml"]
    assert WORKFLOW.read_text().strip() in [text.strip() for text in shown]
    yaml = pytest.importorskip("yaml")  # PyYAML, where installed
    workflow = yaml.safe_load(WORKFLOW.read_text())
    shard, merge = workflow["jobs"]["shard"], workflow["jobs"]["merge"]
    assert shard["strategy"]["matrix"]["shard"] == [1, 2, 3] and merge["needs"] == "shard"
    steps = [step.get("run") or step["uses"] for job in (shard, merge) for step in job["steps"]]
    assert "actions/download-artifact@v4" in steps and steps.count("pip install -e '.[test]'") == 2


@pytest.mark.slow
def test_three_shards_of_the_default_matrix_merged_equal_an_unsharded_run(tmp_path):
    def harness(*argv: str) -> int:
        return subprocess.run([sys.executable, "-m", "harness", *argv, "--quiet"], cwd=tmp_path, timeout=3000,
                              capture_output=True).returncode

    assert harness("check", "--all", "--json", "whole.json") in (0, 1)
    for index in (1, 2, 3):
        assert harness("check", "--all", "--shard", f"{index}/3", "--json", f"part-{index}.json") in (0, 1)
    merged = subprocess.run([sys.executable, "-m", "harness", "check", "--merge", "part-*.json", "--json",
                             "merged.json"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert merged.returncode in (0, 1) and "Traceback" not in merged.stderr
    whole, merged_document = (json.loads((tmp_path / name).read_text()) for name in ("whole.json", "merged.json"))
    assert without_seconds(merged_document) == without_seconds(whole)
    assert whole["summary"]["checks"] == len(load_matrix()[1])
