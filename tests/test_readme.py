"""Every command and example of README.md and docs/*.md runs, as written, in a test.

Commands are the lines of fenced ``bash`` blocks (one command per line; comment lines and blank lines are
skipped) and the ``run:`` steps of fenced ``yaml`` blocks (the CI workflow). A trailing comment
``# exits N`` states the expected exit code (default 0). The cheap commands of a block run in order, in
one temporary folder, with the test environment's ``harness`` first on PATH: a line ``harness SUBCOMMAND ...``
that bash would pass on as it is (no expansion, redirection or second command) runs in the test's own process
(``harness.cli.main`` on the words bash would pass, in the block's folder, as the console script runs it: no
process start nor JAX import per line, most of a small check's time), every other line (``harness --version``,
``python -m harness ...``: the entry points themselves) through ``bash``; the first
commands of a block that an earlier block starts with, the same in the same order, are not run twice. The slow
ones (setting up a virtual environment or installing, the whole check matrix, a report, the whole test
suite, the documentation site) run in tests marked ``slow``, in a copy of the repository, with a fresh virtual
environment first on PATH when the block installs something. Two placeholders of the documents are given meaning here:
``path/to/my_game.py:MY_GAME`` is a small game file written into the folder (beside a copy of
``examples/``), and the argument ``...`` ("any arguments") runs as ``--version``. A workflow with a job matrix
(the sharded one) runs its commands per job: tests/test_shards.py checks them against docs/ci.md's.

``pycon`` blocks run as doctests through Sybil (its doctest parser and evaluator, one test per block),
``python`` blocks are imported or run by pytest, and the output shown in a ``text`` or unlabelled block is
compared with the real one (``CHECKED_BY`` names the test of each such block).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.markdown import CodeBlockParser

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
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
    (re.compile(r"\bmkdocs\b"), "builds the documentation site"),
]


@dataclass(frozen=True)
class Command:
    line: str
    exit_code: int
    slow: str  # why it is slow, or ""


@dataclass(frozen=True)
class Block:
    source: str  # the document, relative to the repository root
    heading: str
    language: str
    number: int  # 1-based within its section
    line: int  # of the opening fence, 1-based
    text: str

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"{Path(self.source).stem.lower()}-{slug}-{self.language}-{self.number}"


def blocks(text: str | None = None, source: str = "README.md") -> list[Block]:
    """The fenced code blocks of every document (or of ``text``) with the heading of their section."""
    if text is None:
        return [b for path in DOCUMENTS for b in blocks(path.read_text(), path.relative_to(ROOT).as_posix())]
    found, heading, counts = [], "top", {}
    fence = None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if fence is None:
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            match = re.match(r"^(`{3,})(\w*)\s*$", line)
            if match:
                fence, language, body, start = match.group(1), match.group(2), [], number
        elif line.rstrip() == fence:
            counts[heading] = counts.get(heading, 0) + 1
            found.append(Block(source, heading, language, counts[heading], start, "".join(body)))
            fence = None
        else:
            body.append(line)
    return found


def shown(heading: str, language: str) -> list[Block]:
    """The blocks of one language under a heading, in every document."""
    found = [b for b in blocks() if b.heading == heading and b.language == language]
    assert found, f"no {language} block under the heading {heading!r}"
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


SUBCOMMANDS = ("check", "list", "derive", "cache", "new-game", "report")
"""The subcommands whose lines run in the test's process (``harness.cli.main``)."""


def in_process(command: Command) -> list[str] | None:
    """The arguments after ``harness`` of a line ``harness SUBCOMMAND ...`` that bash passes on as they are: words
    only, quoted or not, no expansion (``$ * ? ~`` and the like), redirection or second command; else None."""
    line = re.sub(r"(?<=\s)\.\.\.(?=\s|$)", "--version", command.line.split(" #")[0])  # " #": bash's comment
    if re.search(r"[#$`*?~{}\[\]\\!]", line):
        return None
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, ""
    try:
        words = list(lexer)
    except ValueError:  # an unclosed quote (" #" inside quotes): bash's own reading decides
        return None
    if len(words) < 2 or words[0] != "harness" or words[1] not in SUBCOMMANDS or any(
            set(word) <= set("();<>|&") for word in words):
        return None
    return words[1:]


def _run_in_process(run: list[Command], cwd: Path) -> None:
    """Runs a block's consecutive ``harness SUBCOMMAND`` lines in this process, in ``cwd``, as the console script
    runs them (``harness.cli.main``: the exit code it returns, or argparse's), and checks each as ``_run`` checks a
    line run through bash: its exit code, and no traceback."""
    from harness.cli import main

    for command in run:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(in_process(command))
            except SystemExit as exc:  # argparse's exits, as the console script's sys.exit(main()) gives them
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        assert code == command.exit_code, (
            f"README command `{command.line}` exited {code}, expected {command.exit_code}\n"
            f"--- stdout\n{out.getvalue()[-3000:]}\n--- stderr\n{err.getvalue()[-3000:]}"
        )
        assert "Traceback" not in err.getvalue(), err.getvalue()


def _run_all(run: list[Command], cwd: Path, env: dict, timeout: float) -> None:
    """Runs a block's commands in order: the ``in_process`` lines in this process, every other line through bash."""
    pending: list[Command] = []
    for command in [*run, None]:
        if command is not None and in_process(command) is not None:
            pending.append(command)
            continue
        if pending:
            _run_in_process(pending, cwd)
            pending = []
        if command is not None:
            _run(command, cwd, env, timeout)


BLOCKS = [b for b in blocks() if commands(b)]
CHEAP = [b for b in BLOCKS if any(not c.slow for c in commands(b))]
SLOW_BLOCKS = [b for b in BLOCKS if any(c.slow for c in commands(b))]


def cheap(block: Block) -> list[Command]:
    """The cheap commands of a block, in order."""
    return [c for c in commands(block) if not c.slow]


def already_run(block: Block) -> int:
    """How many of a block's first cheap commands an earlier block runs first, the same in the same order (the
    README repeats the start of a page's block): from the same prepared folder they are not run again."""
    key = lambda c: (c.line.split(" #")[0].split(), c.exit_code)  # noqa: E731
    mine, longest = [key(c) for c in cheap(block)], 0
    for earlier in CHEAP[:CHEAP.index(block)]:
        theirs = [key(c) for c in cheap(earlier)]
        pairs = zip(mine, theirs, strict=False)
        same = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(mine), len(theirs)))
        longest = max(longest, same)
    return longest


def test_the_documents_have_commands_and_they_are_classified():
    assert {"Quickstart", "Commands", "Installing", "Adding a game", "Using it in CI"} <= {b.heading for b in BLOCKS}
    assert {b.source for b in BLOCKS} >= {"README.md", "docs/guide.md", "docs/reference.md", "docs/ci.md"}
    everything = [c for b in BLOCKS for c in commands(b)]
    assert any(c.line.startswith("harness list") and not c.slow for c in everything)
    assert all(c.slow for c in everything if "--all" in c.line or "pip install" in c.line)
    assert {c.exit_code for c in everything if "--flow official" in c.line and "--lr2 0.3" in c.line} == {1}
    # the entry points themselves run through bash; the checks of a block in the test's process
    direct = {c.line.split(" #")[0].strip() for c in everything if not c.slow and in_process(c) is None}
    assert direct == {"harness --version", "python -m harness ...",
                      "HARNESS_REPLAY=off harness check --game dirac_gan"}, direct


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
    found = blocks(text, "docs/page.md")
    assert [b.language for b in found] == ["bash", "python", "yaml"]
    assert [b.line for b in found] == [3, 10, 13] and found[0].id == "page-title-bash-1"
    bash = commands(found[0])
    assert [(c.line.split("#")[0].strip(), c.exit_code, bool(c.slow)) for c in bash] == [
        ("harness list", 0, False), ("harness check --game x", 2, False), ("harness check --all", 0, True)]
    assert commands(found[1]) == []
    assert [c.line for c in commands(found[2])] == ["pip install -e '.[test]'", "harness check --all"]
    assert all(c.slow for c in commands(found[2]))
    assert [in_process(c) for c in bash] == [["list"], ["check", "--game", "x"], ["check", "--all"]]
    lines = ["harness check --game x --optimizer2 'heavy_ball(beta=0.5)'  # exits 1", "harness list | head",
             "harness check --game x > out.txt", "harness check --game $GAME", "harness --version", "harness ...",
             "python -m harness list", "harness list && harness check", "harness check --game x*.py",
             "harness check --optimizer 'adam # x'"]
    assert [in_process(Command(line, 0, "")) for line in lines] == [
        ["check", "--game", "x", "--optimizer2", "heavy_ball(beta=0.5)"]] + [None] * 9


@pytest.mark.parametrize("block", CHEAP, ids=[b.id for b in CHEAP])
def test_cheap_commands_run(block, tmp_path):
    _prepare(tmp_path)
    env = _environment(BIN)
    _run_all(cheap(block)[already_run(block):], tmp_path, env, timeout=300)


def test_a_repeated_start_of_a_block_runs_once():
    assert [b.source for b in CHEAP[:2]] == ["README.md", "README.md"]
    assert already_run(CHEAP[0]) == 0
    skipped = {b.id: already_run(b) for b in CHEAP if already_run(b)}
    assert skipped == {"guide-check-your-own-modified-flow-bash-2": 2, "reference-commands-bash-1": 2}
    readme = [c.line.split(" #")[0].split() for b in CHEAP if b.source == "README.md" for c in cheap(b)]
    for block in CHEAP:
        assert all(c.line.split(" #")[0].split() in readme for c in cheap(block)[:already_run(block)])


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


def _pycon_examples(document):
    """The ``>>>`` examples of a document's ``pycon`` blocks (Sybil's Markdown parser for Python reads ``python``
    blocks only), as doctests with ELLIPSIS."""
    doctests = DocTestStringParser(DocTestEvaluator(doctest.ELLIPSIS))
    for region in CodeBlockParser("pycon")(document):
        for example in doctests(region.parsed, document.path):
            example.adjust(region, region.parsed)
            yield example


SYBIL = Sybil(parsers=[_pycon_examples])
PYCON = [b for b in blocks() if b.language == "pycon"]


@pytest.mark.parametrize("block", PYCON, ids=[b.id for b in PYCON])
def test_pycon_blocks_run_as_doctests(block):
    lines = range(block.line + 1, block.line + 1 + len(block.text.splitlines()))
    examples = [example for example in SYBIL.parse(ROOT / block.source) if example.line in lines]
    assert len(examples) == len(re.findall(r"^>>> ", block.text, re.M)) > 0
    for example in examples:  # in order, in the namespace of the block's document
        example.evaluate()


def test_the_example_game_of_adding_a_game_checks(tmp_path):
    import harness

    [example] = shown("Adding a game", "python")
    (tmp_path / "example.py").write_text(example.text)
    result = harness.check(f"{tmp_path / 'example.py'}:game", "simultaneous", "modified", points=2)
    assert result.passed and abs(result.fit.slope - 3) < 0.15


TEST_FILES = [b for b in blocks() if b.language == "python" and b.text.startswith("# tests/test_orders.py")]


@pytest.mark.parametrize("example", TEST_FILES, ids=[b.id for b in TEST_FILES])
def test_the_test_file_examples_run_with_the_plugin(example, pytester):
    _prepare(pytester.path)
    pytester.makepyfile(test_orders=example.text)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(re.findall(r"^def test_", example.text, re.M)))


def test_the_readme_is_short_and_shows_one_example_of_each_kind():
    assert len(README.read_text().splitlines()) <= 250
    mine = [b for b in blocks() if b.source == "README.md"]
    quickstart = " ".join(b.text for b in mine if b.heading == "Quickstart")
    assert "pip install -e '.[test]'" in quickstart and "python -m pytest -n 2" in quickstart  # what .ci/run runs
    lines = [c.line for b in mine for c in commands(b)]
    assert any(line.startswith("harness check") and "examples/lookahead.py" not in line for line in lines)
    assert any(line.startswith("harness report") or "harness report" in line for line in lines)
    assert any("harness.check(" in b.text for b in mine if b.language == "pycon")
    assert any("(harness_check)" in b.text for b in mine if b.language == "python")
    assert any("@harness.flow(" in b.text for b in mine if b.language == "python")
    assert any("--flow examples/lookahead.py:" in line for line in lines)
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"](docs/{page.name})" in README.read_text(), f"the README does not link docs/{page.name}"


def test_the_check_output_shown_is_the_real_one(capsys):
    from test_reliability import run_cli

    [shown_output] = [b for b in shown("The two commands", "text") if b.source == "README.md"]
    command = next(c for b in shown("The two commands", "bash") for c in commands(b) if c.line.startswith(
        "harness check --game dirac_gan "))
    code, out, _ = run_cli(capsys, *command.line.split(" #")[0].split()[1:])
    assert code == 0
    _assert_shown(shown_output.text, out)


def test_the_series_diagnosis_shown_is_the_real_one(capsys):
    from test_reliability import run_cli

    [output] = shown("When a flow is wrong: the error series", "")
    [command] = [c for b in shown("When a flow is wrong: the error series", "bash") for c in commands(b)]
    code, out, _ = run_cli(capsys, *command.line.split(" #")[0].split()[1:])
    assert code == command.exit_code == 1
    _assert_shown(output.text, out, part=True)  # the lines under the failing verdict, without header and summary


def _assert_shown(shown_text: str, real: str, part: bool = False) -> None:
    """``real`` is ``shown_text`` (or holds it, whole lines, if ``part``) up to the last digits of its numbers,
    with "…" standing for anything."""
    pattern = re.sub(r"\d+(?:\\\.\d+)?", r"[-+]?[0-9.]+", re.escape(shown_text.strip())).replace(re.escape("…"), ".*")
    found = re.search(rf"^{pattern}$", real, re.S | re.M) if part else re.fullmatch(pattern, real.strip(), re.S)
    assert found, f"the documents show\n{shown_text}\nbut the output is\n{real}"
    if not part:
        assert len(shown_text.strip().splitlines()) == len(real.strip().splitlines())


CHECKED_BY = {
    "readme-the-two-commands-text-2": "test_readme.py::test_the_check_output_shown_is_the_real_one",
    "readme-in-your-pytest-suite-python-1": "test_readme.py::test_the_test_file_examples_run_with_the_plugin",
    "readme-check-your-own-modified-flow-python-1": "test_readme.py::test_the_user_flow_shown_is_the_example_file",
    "ci-using-it-in-ci-python-1": "test_readme.py::test_the_test_file_examples_run_with_the_plugin",
    "ci-using-it-in-ci-text-2": "test_readme.py::test_the_failure_message_shown_is_the_real_one",
    "ci-using-it-in-ci-yaml-5": "test_shards.py::test_the_sharded_workflow_runs_the_documented_commands",
    "guide-check-your-own-modified-flow-python-1": "test_readme.py::test_the_user_flow_shown_is_the_example_file",
    "guide-when-a-flow-is-wrong-the-error-series--2": "test_readme.py::test_the_series_diagnosis_shown_is_the_real_one",
    "guide-derive-a-modified-flow-text-2": "test_derive.py::test_the_guides_derive_output_is_the_real_one",
    "guide-adding-a-game-python-2": "test_readme.py::test_the_example_game_of_adding_a_game_checks",
    "reference-published-flows-checked-python-2":
        "test_readme.py::test_the_second_order_ode_shown_measures_the_slope_shown",
}
"""The blocks that are neither commands nor doctests, each with the test that runs it or compares it."""


def test_every_block_is_run_or_compared():
    others = {b.id for b in blocks() if not commands(b) and b.language != "pycon"}
    assert others == set(CHECKED_BY), "a block no test runs or compares, or one that is gone"
    for test in set(CHECKED_BY.values()):
        file, name = test.split("::")
        assert re.search(rf"^def {name}\(", (ROOT / "tests" / file).read_text(), re.M), test


PLACEHOLDERS = re.compile(r"NAME|GAME|FILE|my_game|my_other_game|test_orders|reports/latest|\*")
"""Paths the documents use as placeholders, for files a command writes, or in a user's project."""


def test_every_repository_path_the_documents_mention_exists():
    text = "\n".join(path.read_text() for path in DOCUMENTS)
    mentioned = set(re.findall(r"(?<![\w/~.-])((?:harness|games|tests|benchmarks|examples|docs|reports|\.github|\.ci)"
                               r"/[\w./-]*\w)", text))
    checked = [path for path in mentioned if not PLACEHOLDERS.search(path)]
    assert len(checked) >= 30
    missing = sorted(path for path in checked if not (ROOT / path).exists())
    assert not missing, f"the documents mention paths that do not exist: {missing}"


def _headings(text: str) -> list[str]:
    """The Markdown headings of a document, outside code blocks."""
    found, fence = [], None
    for line in text.splitlines():
        match = re.match(r"^(`{3,})", line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and line.rstrip() == fence:
            fence = None
        elif fence is None and line.startswith("#"):
            found.append(line.lstrip("#").strip())
    return found


def anchor(heading: str) -> str:
    """GitHub's (and MkDocs') anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_link_between_the_documents_resolves():
    checked = 0
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            linked = (document.parent / path).resolve() if path else document
            assert linked.exists(), f"{document.name} links {target}, which does not exist"
            if fragment:
                assert fragment in {anchor(h) for h in _headings(linked.read_text())}, f"{document.name}: {target}"
            checked += 1
    assert checked >= 20
    assert anchor("From Python (notebooks)") == "from-python-notebooks"


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert {path.parent.name for path in tmp_path.glob("*/index.html")} >= {"guide", "reference", "ci", "theory"}


def test_the_workflow_shown_is_the_one_shipped():
    [workflow] = [b for b in shown("Using it in CI", "yaml") if "${{ matrix." not in b.text]
    assert workflow.text.strip() == (ROOT / ".github" / "workflows" / "orders.yml").read_text().strip()


def test_every_test_named_in_reading_verdicts_exists():
    text = (ROOT / "docs" / "reference.md").read_text()
    section = text[text.index("## Reading verdicts"):text.index("## Reading a report")]
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", section)
    assert len(named) >= 20
    for file, test in named:
        assert re.search(rf"^def {test}\(", (ROOT / "tests" / file).read_text(), re.M), f"{file}::{test}"


def test_the_user_flow_shown_is_the_example_file():
    examples = shown("Check your own modified flow", "python")
    assert {b.source for b in examples} == {"README.md", "docs/guide.md"}
    for example in examples:
        assert example.text.strip() in (ROOT / "examples" / "lookahead.py").read_text()


def test_the_failure_message_shown_is_the_real_one():
    import harness
    from harness.api import explain

    [message] = shown("Using it in CI", "text")
    first = message.text.splitlines()[0]
    assert first.startswith("AssertionError: order check failed: bilinear · simultaneous(lr1=1, lr2=0.3) · official")
    # "…" stands for anything; the numbers shown may differ in their last digits on another machine
    _assert_shown(message.text, "AssertionError: " + explain(harness.check("bilinear", "simultaneous", "official",
                                                                           lr2=0.3)))


def test_the_ci_workflow_caches_the_jax_compilation_cache():
    workflow = shown("Using it in CI", "yaml")[0].text
    assert "cache: pip" in workflow and "actions/setup-python" in workflow
    assert "path: ~/.cache/discretization-drift-harness/jax" in workflow  # harness/__init__.py's default
    assert "harness check --all" in workflow and "pip install -e '.[test]'" in workflow
    environment = {k: v for k, v in os.environ.items() if k not in ("HARNESS_CACHE_DIR", "XDG_CACHE_HOME")}
    folder = subprocess.run([sys.executable, "-c", "import harness; print(harness.cache_folder())"], env=environment,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert folder == os.path.expanduser("~/.cache/discretization-drift-harness/jax")  # the runner's default


def test_the_second_order_ode_shown_measures_the_slope_shown():
    [example] = shown("Published flows, checked", "python")
    *body, last = example.text.strip().splitlines()
    expression, _, slope = last.partition("#")
    namespace: dict = {}
    exec("\n".join(body), namespace)
    assert eval(expression, namespace) == pytest.approx(float(slope), abs=0.01)
