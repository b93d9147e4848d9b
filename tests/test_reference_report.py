"""The committed reference report (reports/reference/, written by `harness report --literature`) is a contract:
the same command gives the same results.json, every field equal but those of IGNORED; and a few of its checks,
run again one by one, give its numbers."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.checks import CheckResult, CheckSpec, Settings, run_check
from harness.flows import Flow
from harness.model.catalog import catalog

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reports" / "reference" / "results.json"
IGNORED = {"schema_version", "environment", "seconds"}
"""The fields that differ between runs of one checkout: the harness's version and environment (package versions,
machine, git commit) and each check's timing; every other field is compared, at every depth."""
RELATIVE = 0.0
"""Floats are compared exactly: two runs of one checkout on one machine give the same bits."""


def _differences(old, new, where: str = "", relative: float = RELATIVE) -> list[str]:
    """Where two results documents differ (IGNORED keys left out, the checkout's own path read as one name)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = (set(old) | set(new)) - IGNORED
        return [d for key in sorted(keys) for d in
                (_differences(old.get(key, "<missing>"), new.get(key, "<missing>"), f"{where}.{key}", relative)
                 if key in old and key in new else [f"{where}.{key}: only in {'old' if key in old else 'new'}"])]
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: {len(old)} items, now {len(new)}"]
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in
                _differences(a, b, f"{where}[{i}]", relative)]
    if isinstance(old, float) and isinstance(new, float):
        same = (math.isnan(old) and math.isnan(new)) or math.isclose(old, new, rel_tol=relative, abs_tol=0.0) \
            or old == new
        return [] if same else [f"{where}: {old!r}, now {new!r}"]
    if isinstance(old, str) and isinstance(new, str):
        old, new = (s.replace(str(ROOT), "<checkout>") for s in (old, new))
    return [] if old == new else [f"{where}: {old!r}, now {new!r}"]


def test_differences_names_what_changed():
    old = {"seconds": 1.0, "environment": {"git_commit": "a"}, "results": [{"fitted_slope": 2.0, "seconds": 3.0}]}
    same = {"seconds": 9.0, "environment": {"git_commit": "b"}, "results": [{"fitted_slope": 2.0, "seconds": 4.0}]}
    assert _differences(old, same) == []
    moved = {**same, "results": [{"fitted_slope": math.nextafter(2.0, 3.0), "seconds": 4.0}]}
    assert _differences(old, moved) == [f".results[0].fitted_slope: 2.0, now {math.nextafter(2.0, 3.0)!r}"]
    assert _differences(old, moved, relative=1e-15) == []
    assert _differences(old, {**same, "paper": {}}) == [".paper: only in new"]


REPRESENTATIVE = (
    lambda e: e["game"] == "dirac_gan" and e["scheme"]["name"] == "simultaneous" and e["flow"]["name"] == "modified"
    and e["measure"] == "local" and (e["scheme"]["lr1"], e["scheme"]["lr2"]) == (0.4, 1.5),
    lambda e: e["game"] == "dirac_gan_bilinear" and e["scheme"]["name"] == "alternating"
    and e["flow"]["name"] == "modified" and e["measure"] == "global" and (e["scheme"]["lr1"], e["scheme"]["lr2"])
    == (1.0, 0.3),
    lambda e: e["game"] == "dirac_gan" and e["flow"]["name"] == "simultaneous (Rosca et al. 2021)"
    and (e["scheme"]["lr1"], e["scheme"]["lr2"]) == (1.0, 0.3),
)
"""Three checks of the reference: a local error against the modified flow, a global error at a fixed horizon,
and a published flow read from literature/."""


def _close(old, new) -> bool:
    """Equal to 1e-9 relative, element by element (None, a non-finite value, as null on both sides)."""
    if isinstance(old, list):
        return isinstance(new, list) and len(old) == len(new) and all(map(_close, old, new))
    if old is None or new is None:
        return old is None and new is None
    return math.isclose(old, new, rel_tol=1e-9, abs_tol=0.0)


@pytest.mark.parametrize("select", REPRESENTATIVE, ids=("local", "global", "published"))
def test_three_reference_checks_run_again_give_its_numbers(select):
    document = json.loads(REFERENCE.read_text())
    entry = next(e for e in document["results"] if select(e))
    stored = CheckResult.from_dict(entry).spec
    source = entry["flow"].get("source")  # a published flow: its file in this checkout's literature/
    flow = Flow.of(str(ROOT / "literature" / Path(source).name)) if source else stored.flow
    spec = CheckSpec(stored.game, stored.scheme, flow, stored.expected_slope, measure=stored.measure,
                     horizon=entry["requested_horizon"])
    result = run_check(catalog()[stored.game], spec, Settings(**document["settings"])).to_dict()
    for key in ("fitted_slope", "slope_stderr", "step_sizes", "errors", "reference_error", "horizon", "fit_range"):
        assert _close(entry[key], result[key]), (key, entry[key], result[key])
    assert (result["status"], result["passed"], result["used_in_fit"]) == (entry["status"], True, entry["used_in_fit"])


@pytest.mark.slow
def test_report_on_the_default_matrix_gives_the_reference_results(tmp_path):
    """`harness report --literature` (the reference's command, its settings those of the default matrix) writes
    the reference's results.json again."""
    reference = json.loads(REFERENCE.read_text())
    assert reference["settings"] == {"tolerance": 0.15, "points": 4, "step_sizes": 10, "decades": 1.5, "seed": 0,
                                     "h_max": None}
    environment = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}  # conftest's threading: other bits
    run = subprocess.run([sys.executable, "-m", "harness", "report", "--literature", "--quiet", "--out",
                          str(tmp_path / "report")], cwd=ROOT, env=environment, capture_output=True, text=True,
                         timeout=3600)
    assert run.returncode == 0, run.stderr[-2000:]
    document = json.loads((tmp_path / "report" / "results.json").read_text())
    differences = _differences(reference, document)
    assert not differences, f"{len(differences)} differences: " + "; ".join(differences[:10])
