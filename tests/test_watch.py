"""`harness check --watch` runs again when a file it reads changes, with the file read afresh."""

import re
import subprocess
import sys

FLOW = """
import jax
import harness


@harness.flow(order=1)
def mine(V, z, h):
    v = V(z)
    return v - {c} * h * jax.jvp(V, (z,), (v,))[1]
"""


def _until_watching(process) -> list[str]:
    """The stderr lines up to and including the next "watching" line."""
    lines = []
    while True:
        line = process.stderr.readline()
        assert line, "the watch ended: " + "".join(lines)
        lines.append(line)
        if "harness: watching" in line:
            return lines


def _results(process, count: int) -> list[str]:
    """The next ``count`` result lines on stdout (a PASS/FAIL line per check)."""
    found = []
    while len(found) < count:
        line = process.stdout.readline()
        assert line, "the watch ended"
        if line.startswith(("PASS ", "FAIL ")):
            found.append(line)
    return found


def test_an_edited_flow_is_checked_again(tmp_path):
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.format(c=0.5))  # the first-order modified flow of simultaneous GD: slope 3
    process = subprocess.Popen([sys.executable, "-m", "harness", "check", "--game", "dirac_gan", "--lr2", "0.3",
                                "--flow", f"{flow}:mine", "--points", "2", "--watch"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        watched = _until_watching(process)
        assert str(flow) in watched[-1]
        (first,) = _results(process, 1)
        flow.write_text(FLOW.format(c=0.4))  # a wrong coefficient: slope 2
        _until_watching(process)
        (second,) = _results(process, 1)
        flow.write_text("this is not python")  # a file that no longer loads: one line, and the watch goes on
        assert "harness: error:" in "".join(_until_watching(process))
        flow.write_text(FLOW.format(c=0.5))
        _until_watching(process)
        (third,) = _results(process, 1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert [(line.split()[0], round(_slope(line))) for line in (first, second, third)] == [
        ("PASS", 3), ("FAIL", 2), ("PASS", 3)]


def _slope(line: str) -> float:
    return float(re.match(r"(PASS|FAIL)\s+\S+\s+([0-9.]+)", line).group(2))
