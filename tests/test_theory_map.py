"""docs/theory.md names the function behind each formula and the tests that measure the facts: every
`file:name` and `tests/file.py::test` it cites must exist, and every reference to one of its sections, anywhere
in the repository, must name a section it has."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "theory.md"
REFERENCES = sorted(set(re.findall(r"`(harness/[\w/]+\.py):([\w.]+)`", MAP.read_text())))


def test_the_map_cites_the_code_of_every_formula_family():
    cited = {f"{path}:{name}" for path, name in REFERENCES}
    for needed in ("harness/flows/__init__.py:flow_coefficients", "harness/flows/__init__.py:first_order_field",
                   "harness/base/integrate.py:reference_solution", "harness/verdict/fit.py:fit_order",
                   "harness/rules/schemes.py:update_map", "harness/model/game.py:single_objective"):
        assert needed in cited
    assert "[docs/theory.md](docs/theory.md)" in (ROOT / "README.md").read_text()


def test_every_test_it_names_exists():
    named = re.findall(r"`tests/(test_\w+\.py)::(test_\w+)`", MAP.read_text())
    assert len(named) >= 10
    for file, test in named:
        assert re.search(rf"^def {test}\(", (ROOT / "tests" / file).read_text(), re.M), f"tests/{file}::{test}"


def test_every_reference_to_the_theory_points_to_a_section_that_exists():
    sections = set(re.findall(r"^## (\d+)\.", MAP.read_text(), re.M))
    folders = ("harness", "tests", "docs", "examples", "benchmarks")
    files = [ROOT / "README.md", ROOT / "pyproject.toml",
             *(path for folder in folders for path in (ROOT / folder).rglob("*")
               if path.suffix in (".py", ".md", ".toml"))]
    cited = 0
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        assert not re.search(r"(?<![\w/])THEORY(_MAP)?\.md", text), f"{name} cites a theory file that does not exist"
        for first, rest in re.findall(r"docs/theory\.md §(\d+)((?:[–-]\d+)?)", text):
            cited += 1
            for number in [first] + re.findall(r"\d+", rest):
                assert number in sections, f"{name} cites docs/theory.md §{number}, which does not exist"
    assert cited >= 20


@pytest.mark.parametrize("path, name", REFERENCES, ids=[f"{p}:{n}" for p, n in REFERENCES])
def test_reference_exists(path, name):
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    target = module
    for part in name.split("."):
        assert hasattr(target, part), f"docs/theory.md cites {path}:{name}, which does not exist"
        target = getattr(target, part)
