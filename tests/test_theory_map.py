"""docs/THEORY_MAP.md names the function behind each formula: every `file:name` it cites must exist."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "THEORY_MAP.md"
REFERENCES = sorted(set(re.findall(r"`(harness/[\w/]+\.py):([\w.]+)`", MAP.read_text())))


def test_the_map_cites_the_code_of_every_formula_family():
    cited = {f"{path}:{name}" for path, name in REFERENCES}
    for needed in ("harness/flows.py:flow_coefficients", "harness/flows.py:first_order_field",
                   "harness/integrate.py:reference_solution", "harness/fit.py:fit_order",
                   "harness/schemes.py:update_map", "harness/game.py:single_objective"):
        assert needed in cited
    assert "[docs/THEORY_MAP.md](docs/THEORY_MAP.md)" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path, name", REFERENCES, ids=[f"{p}:{n}" for p, n in REFERENCES])
def test_reference_exists(path, name):
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    target = module
    for part in name.split("."):
        assert hasattr(target, part), f"docs/THEORY_MAP.md cites {path}:{name}, which does not exist"
        target = getattr(target, part)
