"""Packaging: the wheel carries the type hints, the data files and the entry points; one version
everywhere; the linters configured in pyproject.toml are clean (slow: mypy takes ~25 s from a cold cache)."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]


def test_one_version_everywhere(capsys):
    from harness.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"harness {harness.__version__}"
    assert version("discretization-drift-harness") == harness.__version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "harness.base.version.__version__"}


def test_entry_points_are_installed():
    assert {ep.name: ep.value for ep in entry_points(group="console_scripts") if ep.name == "harness"} == {
        "harness": "harness.launch:run"}
    assert [ep.value for ep in entry_points(group="pytest11") if ep.name == "harness"] == ["harness_pytest"]


def test_the_plugin_module_imports_nothing_heavy():
    code = "import sys, harness_pytest; print(sorted(m for m in ('jax', 'harness', 'numpy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_type_hints_marker_is_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["harness"]
    assert (ROOT / "harness" / "py.typed").is_file()
    assert "harness_pytest" in project["tool"]["setuptools"]["py-modules"]


@pytest.mark.slow  # builds in an isolated environment: fetches setuptools from the package index
def test_pip_builds_a_wheel_with_type_hints_data_and_entry_points(tmp_path):
    source = tmp_path / "source"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--quiet", "-w",
                             str(tmp_path / "dist")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("discretization_drift_harness-*.whl")
    assert f"-{harness.__version__}-" in wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("harness/py.typed", "harness/checks/check_matrix.toml", "harness/api.py", "harness/pytest_plugin.py",
                   "harness/model/scaffold.py", "harness_pytest.py", "harness/games/bilinear.py",
                   "harness/report/templates/report.html.j2", "harness/report/templates/parts.html.j2"):
        assert needed in names, needed
    (entry,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "[pytest11]\nharness = harness_pytest" in text and "harness = harness.cli:main" in text


@pytest.mark.slow
def test_ruff_and_mypy_are_clean():
    for command in (["ruff", "check", "."], ["mypy"]):
        result = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"
