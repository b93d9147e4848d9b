"""Every command in README.md runs, as written, in a test.

Commands are the lines of fenced ``bash`` blocks (one command per line; comment lines and blank lines are
skipped) and the ``run:`` steps of fenced ``yaml`` blocks (the CI workflow). A trailing comment
``# exits N`` states the expected exit code (default 0). The cheap commands of a block run in order, in
one temporary folder, through ``bash`` with the test environment's ``harness`` first on PATH. The slow
ones (setting up a virtual environment or installing, the whole check matrix, a report, the whole test
suite) run in tests marked ``slow``, in a copy of the repository, with a fresh virtual environment first
on PATH when the block installs something. Two placeholders of the README are given meaning here:
``path/to/my_game.py:MY_GAME`` is a small game file written into the folder (beside a copy of
``examples/``), and the argument ``...`` ("any arguments") runs as ``--version``. A workflow with a job matrix
(the sharded one) runs its commands per job: tests/test_shards.py checks them against the README's.

``pycon`` blocks run as doctests, ``python`` blocks are imported or run by pytest (see the tests), and
the failure message shown in a ``text`` block is compared with the real one.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

MY_GAME = '''"""A cubic zero-sum game standing for the README's path/to/my_game.py."""
from harness import Game


def energy(phi, theta):
    return phi[0] * theta[0] + 0.1 * phi[0] ** 3 * theta[0]


MY_GAME = Game("my_game", energy, lambda phi, theta: -energy(phi, theta), [0.7], [0.4])
'''

SLOW = [
    (re.compile(r"\bpip\b.*\binstall\b|\bvenv\b"), "sets up an environment"),
    (re.compile(r"\bharness\b.*\s--all\b"), "runs the whole check matrix"),
    (re.compile(r"\bharness\b.*\s--literature\b"), "runs the literature catalog's matrix"),
    (re.compile(r"\bharness\s+report\b"), "runs the check matrix and writes a report"),
    (re.compile(r"\bharness\b.*\s--merge\b"), "merges the shards of the whole check matrix"),
    (re.compile(r"\bpytest\b"), "runs a test suite"),
]


@dataclass(frozen=True)
class Command:
    line: str
    exit_code: int
    slow: str  # why it is slow, or ""


@dataclass(frozen=True)
class Block:
    heading: str
    language: str
    number: int  # 1-based within its section
    text: str

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"{slug}-{self.language}-{self.number}"


def blocks(text: str | None = None) -> list[Block]:
    """The fenced code blocks of the README with the heading of their section."""
    text = README.read_text() if text is None else text
    found, heading, counts = [], "top", {}
    fence = None
    for line in text.splitlines(keepends=True):
        if fence is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            match = re.match(r"^(`{3,})(\w*)\s*$", line)
            if match:
                fence, language, body = match.group(1), match.group(2), []
        elif line.rstrip() == fence:
            counts[heading] = counts.get(heading, 0) + 1
            found.append(Block(heading, language, counts[heading], "".join(body)))
            fence = None
        else:
            body.append(line)
    return found


def commands(block: Block) -> list[Command]:
    """The commands of a bash block (one a line) or the ``run:`` steps of a yaml block."""
    if block.language == "bash":
        lines = [line.strip() for line in block.text.splitlines()]
    elif block.language in ("yaml", "yml"):
        if "${{ matrix." in block.text:  # a job matrix's commands: tests/test_shards.py compares them with the README's
            return []
        lines = [m.group(1).strip() for m in re.finditer(r"^\s*(?:-\s+)?run:\s*(.+)$", block.text, re.M)]
    else:
        return []
    found = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        match = re.search(r"#.*\bexits (\d+)", line)
        slow = next((why for pattern, why in SLOW if pattern.search(line.split(" #")[0])), "")
        found.append(Command(line, int(match.group(1)) if match else 0, slow))
    return found


def _prepare(folder: Path) -> None:
    (folder / "path" / "to").mkdir(parents=True, exist_ok=True)
    (folder / "path" / "to" / "my_game.py").write_text(MY_GAME)
    shutil.copytree(ROOT / "examples", folder / "examples", dirs_exist_ok=True)
    shutil.copytree(ROOT / "literature", folder / "literature", dirs_exist_ok=True)


def _environment(path_first: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _run(command: Command, cwd: Path, env: dict, timeout: float) -> None:
    line = re.sub(r"(?<=\s)\.\.\.(?=\s|$)", "--version", command.line)
    result = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == command.exit_code, (
        f"README command `{command.line}` exited {result.returncode}, expected {command.exit_code}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
    assert "Traceback" not in result.stderr, result.stderr


BLOCKS = [b for b in blocks() if commands(b)]
CHEAP = [b for b in BLOCKS if any(not c.slow for c in commands(b))]
SLOW_BLOCKS = [b for b in BLOCKS if any(c.slow for c in commands(b))]


def test_the_readme_has_commands_and_they_are_classified():
    assert {"Quickstart", "Commands", "Installing", "Adding a game", "Using it in CI"} <= {b.heading for b in BLOCKS}
    everything = [c for b in BLOCKS for c in commands(b)]
    assert any(c.line.startswith("harness list") and not c.slow for c in everything)
    assert all(c.slow for c in everything if "--all" in c.line or "pip install" in c.line)
    assert {c.exit_code for c in everything if "--flow official" in c.line and "--lr2 0.3" in c.line} == {1}


def test_extraction_is_robust():
    text = textwrap.dedent('''
        # Title
        ```bash
        # a comment line
        harness list                 # the catalog

        harness check --game x       # exits 2: unknown game
        harness check --all
        ```
        ```python
        harness list
        ```
        ```yaml
        steps:
          - run: pip install -e '.[test]'
          - name: check
            run: harness check --all
        ```
    ''')
    found = blocks(text)
    assert [b.language for b in found] == ["bash", "python", "yaml"]
    bash = commands(found[0])
    assert [(c.line.split("#")[0].strip(), c.exit_code, bool(c.slow)) for c in bash] == [
        ("harness list", 0, False), ("harness check --game x", 2, False), ("harness check --all", 0, True)]
    assert commands(found[1]) == []
    assert [c.line for c in commands(found[2])] == ["pip install -e '.[test]'", "harness check --all"]
    assert all(c.slow for c in commands(found[2]))


@pytest.mark.parametrize("block", CHEAP, ids=[b.id for b in CHEAP])
def test_cheap_commands_run(block, tmp_path):
    _prepare(tmp_path)
    env = _environment(BIN)
    for command in commands(block):
        if not command.slow:
            _run(command, tmp_path, env, timeout=300)


def _copy_of_the_repository(target: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.slow
@pytest.mark.parametrize("block", SLOW_BLOCKS, ids=[b.id for b in SLOW_BLOCKS])
def test_slow_commands_run(block, tmp_path):
    repository = _copy_of_the_repository(tmp_path / "repository")
    _prepare(repository)
    path_first = BIN
    if any("pip" in c.line and "install" in c.line and ".venv/bin/pip" not in c.line for c in commands(block)):
        subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
        path_first = tmp_path / "venv" / "bin"
    env = _environment(path_first)
    for command in commands(block):  # in order: a block's commands may depend on each other
        _run(command, repository, env, timeout=3000)


# --- the other kinds of block ---------------------------------------------------------------------


def test_pycon_blocks_run_as_doctests():
    found = [b for b in blocks() if b.language == "pycon"]
    assert found, "the README shows the Python API"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for block in found:
        test = parser.get_doctest(block.text, {}, f"README {block.id}", str(README), 0)
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


def test_the_example_game_of_adding_a_game_checks(tmp_path):
    import harness

    example = next(b for b in blocks() if b.heading == "Adding a game" and b.language == "python")
    (tmp_path / "example.py").write_text(example.text)
    result = harness.check(f"{tmp_path / 'example.py'}:game", "simultaneous", "modified", points=2)
    assert result.passed and abs(result.fit.slope - 3) < 0.15


def test_the_ci_test_file_example_runs_with_the_plugin(pytester):
    example = next(b for b in blocks() if b.heading == "Using it in CI" and b.language == "python")
    _prepare(pytester.path)
    pytester.makepyfile(test_orders=example.text)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(re.findall(r"^def test_", example.text, re.M)))


PLACEHOLDERS = re.compile(r"NAME|GAME|FILE|my_game|my_other_game|test_orders|reports/latest|\*")
"""Paths the README uses as placeholders, for files a command writes, or in a user's project."""


def test_every_repository_path_the_readme_mentions_exists():
    text = README.read_text()
    mentioned = set(re.findall(r"(?<![\w/~.-])((?:harness|games|tests|benchmarks|examples|docs|reports|\.github|\.ci)"
                               r"/[\w./-]*\w)", text))
    checked = [path for path in mentioned if not PLACEHOLDERS.search(path)]
    assert len(checked) >= 30
    missing = sorted(path for path in checked if not (ROOT / path).exists())
    assert not missing, f"README mentions paths that do not exist: {missing}"


def test_the_workflow_shown_is_the_one_shipped():
    shown = next(b for b in blocks() if b.heading == "Using it in CI" and b.language == "yaml").text
    assert shown.strip() == (ROOT / ".github" / "workflows" / "orders.yml").read_text().strip()


def test_every_test_named_in_reading_verdicts_exists():
    text = README.read_text()
    section = text[text.index("## Reading verdicts"):text.index("## Reading a report")]
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", section)
    assert len(named) >= 20
    for file, test in named:
        assert re.search(rf"^def {test}\(", (ROOT / "tests" / file).read_text(), re.M), f"{file}::{test}"


def test_the_user_flow_shown_is_the_example_file():
    example = next(b for b in blocks() if b.heading == "Check your own modified flow" and b.language == "python")
    assert example.text.strip() in (ROOT / "examples" / "lookahead.py").read_text()


def test_the_failure_message_shown_is_the_real_one():
    import harness
    from harness.api import explain

    shown = next(b for b in blocks() if b.heading == "Using it in CI" and b.language == "text").text
    first = shown.splitlines()[0]
    assert first.startswith("AssertionError: order check failed: bilinear · simultaneous(lr1=1, lr2=0.3) · official")
    real = "AssertionError: " + explain(harness.check("bilinear", "simultaneous", "official", lr2=0.3))
    # "…" stands for anything; the numbers shown may differ in their last digits on another machine
    pattern = re.sub(r"\d+(?:\\\.\d+)?", r"[-+]?[0-9.]+", re.escape(shown.strip())).replace(re.escape("…"), ".*")
    assert re.fullmatch(pattern, real.strip(), re.S), f"README shows\n{shown}\nbut the message is\n{real}"
    assert len(shown.strip().splitlines()) == len(real.strip().splitlines())


def test_the_ci_workflow_caches_the_jax_compilation_cache():
    workflow = next(b for b in blocks() if b.heading == "Using it in CI" and b.language == "yaml").text
    assert "cache: pip" in workflow and "actions/setup-python" in workflow
    assert "path: ~/.cache/discretization-drift-harness/jax" in workflow  # harness/__init__.py's default
    assert "harness check --all" in workflow and "pip install -e '.[test]'" in workflow
    environment = {k: v for k, v in os.environ.items() if k not in ("HARNESS_CACHE_DIR", "XDG_CACHE_HOME")}
    folder = subprocess.run([sys.executable, "-c", "import harness; print(harness.cache_folder())"], env=environment,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert folder == os.path.expanduser("~/.cache/discretization-drift-harness/jax")  # the runner's default


def test_the_second_order_ode_shown_measures_the_slope_shown():
    example = next(b for b in blocks() if b.heading == "Published flows, checked" and b.language == "python")
    *body, last = example.text.strip().splitlines()
    expression, _, shown = last.partition("#")
    namespace: dict = {}
    exec("\n".join(body), namespace)
    assert eval(expression, namespace) == pytest.approx(float(shown), abs=0.01)
