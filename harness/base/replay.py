"""A repeated ``harness check`` replayed: the same command over built-in games, rules, flows and matrices, with
the same harness files, Python, installed packages, environment and machine, prints what its first run printed
(stdout and stderr, in order), writes the same ``--json`` file and returns the same exit code, without importing
JAX (about 0.2 s instead of a second or more of imports and cache reads).

The key (``run_key``) is a SHA-256 of: the arguments; every file of the harness package, and of the repository's
literature/ folder when its matrix runs; Python's executable and version; the names of the installed
distributions' metadata folders on the import path (each holds a version); the environment variables that steer
JAX, XLA, the devices, the BLAS threads, Python's imports and the harness; the host name, machine and processor;
whether stdout and stderr are terminals. A run is kept only when it ended with exit code 0 or 1. Never replayed
(``run_key`` is None): a command that names a file of the user's (a game, rule, flow, terms or matrix path: it may
import code that the key cannot see), ``--watch``, ``--resume``, ``--merge``, ``--distributed``, an option not
spelled out in full, or ``HARNESS_REPLAY=off``. The stored runs live beside the kept results (the folder and
suffix of harness.base.result_cache), so the same size cap evicts them and ``harness cache clear`` removes them.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeGuard

from harness.base.cache_config import cache_folder
from harness.base.files import atomic_write
from harness.base.version import __version__

PACKAGE = Path(__file__).resolve().parents[1]
LITERATURE = PACKAGE.parent / "literature"
FORMAT = 1
SWITCH = "HARNESS_REPLAY"
"""Environment variable: ``off`` runs every command anew (nothing replayed, nothing stored)."""

FLAGS = {"--all", "--literature", "--quiet", "--progress", "--no-budget"}
"""``harness check`` options without a value that a replayed run may have."""
VALUED = {"--game", "--scheme", "--lr1", "--lr2", "--m", "--k", "--first", "--beta", "--gamma", "--mu", "--a",
          "--inner", "--base", "--cancel", "--strengthen", "--convention", "--optimizer", "--optimizer2", "--regime",
          "--step", "--flow", "--expected-slope", "--expected-status", "--measure", "--horizon", "--json", "--shard",
          "--param", "--jobs", "-j", "--points", "--step-sizes", "--decades", "--h-max", "--seed", "--tolerance",
          "--matrix"}
"""``harness check`` options with a value that a replayed run may have (a value with ``.py`` or a path in it only
for ``--json``, where the run writes, and ``--shard I/N``)."""
BUNDLED = {"default", "large", "optimizers", "literature"}
"""``--matrix`` values that name a matrix shipped with the harness (harness.checks.matrix.BUNDLED_MATRICES)."""
ENVIRONMENT = ("HARNESS_", "JAX_", "XLA_", "TF_", "CUDA_", "NVIDIA_", "TPU_", "LIBTPU_", "ROCR_", "HIP_", "OMP_",
               "MKL_", "OPENBLAS_", "PYTHON")
"""Prefixes of the environment variables in the key."""


def _options(argv: list[str]) -> list[tuple[str, str | None]] | None:
    """``harness check``'s (option, value) pairs, or None where the command may not be replayed."""
    if not argv or argv[0] != "check":
        return None
    pairs: list[tuple[str, str | None]] = []
    rest = iter(argv[1:])
    for token in rest:
        name, joined, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name.startswith("-j") and name != "-j" and not name.startswith("--"):  # -j2
            name, joined, value = "-j", "=", name[2:]
        if name in FLAGS and not joined:
            pairs.append((name, None))
        elif name in VALUED:
            found = value if joined else next(rest, None)
            if found is None:
                return None
            pairs.append((name, found))
        else:
            return None
    for option, given in pairs:
        if given is None or option in ("--json", "--shard"):  # where the run writes; I/N
            continue
        if option == "--matrix" and given not in BUNDLED:
            return None
        if ".py" in given or "/" in given or os.sep in given:
            return None
    return pairs


def _folder_digest(folder: Path, digest) -> None:
    """Every file under ``folder`` (its path and bytes), compiled bytecode left out."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")


def _installed() -> list[str]:
    """The metadata folders (``NAME-VERSION.dist-info``, ``.egg-info``) on the import path."""
    found = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            found += [name for name in os.listdir(entry or ".") if name.endswith((".dist-info", ".egg-info"))]
    return sorted(set(found))


def _processor() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line
    return platform.processor()


def run_key(argv: list[str], folder: Path = PACKAGE) -> str | None:
    """The key of ``harness ARGV``'s stored run (module docstring), or None where it may not be replayed
    (``folder``: the harness package, whose every file is in the key)."""
    if os.environ.get(SWITCH, "").strip().lower() == "off":
        return None
    pairs = _options(argv)
    if pairs is None:
        return None
    digest = hashlib.sha256(f"replay {FORMAT}|{__version__}".encode())
    digest.update(json.dumps(argv).encode())
    _folder_digest(folder, digest)
    if ("--literature", None) in pairs or ("--matrix", "literature") in pairs:
        if LITERATURE.is_dir():
            _folder_digest(LITERATURE, digest)
    environment = sorted((name, value) for name, value in os.environ.items() if name.startswith(ENVIRONMENT))
    digest.update(json.dumps([sys.executable, sys.version, _installed(), environment, socket.gethostname(),
                              platform.machine(), _processor(), sys.stdout.isatty(), sys.stderr.isatty()]).encode())
    return digest.hexdigest()


def _json_path(argv: list[str]) -> str | None:
    pairs = _options(argv) or []
    return next((value for name, value in pairs if name == "--json"), None)


def _store(key: str) -> Path | None:
    """The stored run's file: ``KEY.result.json`` in the kept results' folder (``kernels/`` in JAX's compilation
    cache folder, which the command line sets to ``cache_folder()`` unless $JAX_COMPILATION_CACHE_DIR names one)."""
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or cache_folder()
    return None if folder.lower() == "off" else Path(folder) / "kernels" / f"{key}.result.json"


def _writable(target: str) -> bool:
    """Whether a replay may write ``--json`` at ``target``: a new or regular file, no link, no partial results
    beside it, outside the harness's own folders (the run refuses the rest with its own error)."""
    path = Path(target)
    if path.is_symlink() or (path.exists() and not path.is_file()) or os.path.lexists(target + ".partial"):
        return False
    resolved = path.resolve()
    return not any(resolved.is_relative_to(folder) for folder in (PACKAGE, LITERATURE))


def _valid(run: Any) -> TypeGuard[dict]:
    """Whether a stored run has every field, of its type (a damaged or older one is run again)."""
    return (isinstance(run, dict) and run.get("format") == FORMAT and run.get("code") in (0, 1)
            and isinstance(run.get("when"), str) and isinstance(run.get("json"), str | None)
            and isinstance(run.get("output"), list)
            and all(isinstance(c, list) and len(c) == 2 and c[0] in ("out", "err") and isinstance(c[1], str)
                    for c in run["output"]))


def replayed(key: str, argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int | None:
    """Replay the run stored under ``key``: its output written again and its exit code returned; None when there
    is none (or it cannot be read, or its ``--json`` cannot be written here): the command then runs."""
    out, err = out or sys.stdout, err or sys.stderr
    store = _store(key)
    if store is None:
        return None
    try:
        run = json.loads(store.read_text())
    except (OSError, ValueError):
        return None
    if not _valid(run):
        return None
    target = _json_path(argv)
    if target is not None:
        if run.get("json") is None or not _writable(target):
            return None
        try:
            atomic_write(Path(target), run["json"])
        except OSError:
            return None
    with contextlib.suppress(OSError):
        os.utime(store)  # used now: the least recently used are evicted first
    for stream, text in run["output"]:
        (out if stream == "out" else err).write(text)
    print(f"harness: replayed the run of {run['when']} (the same command, harness files, packages, environment and "
          f"machine); {SWITCH}=off runs it again", file=err, flush=True)
    out.flush()
    return run["code"]


class _Tee:
    """A stream that writes through to ``stream`` and appends each text, with its name, to ``chunks``."""

    def __init__(self, stream: TextIO, name: str, chunks: list[list[str]]) -> None:
        self._stream, self._name, self._chunks = stream, name, chunks

    def write(self, text: str) -> int:
        if self._chunks and self._chunks[-1][0] == self._name:
            self._chunks[-1][1] += text
        else:
            self._chunks.append([self._name, text])
        return self._stream.write(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _teed(chunks: list[list[str]]) -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, "out", chunks), _Tee(err, "err", chunks)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def recorded(key: str, argv: list[str], run: Callable[[], int]) -> int:
    """``run()``'s exit code, its output (and ``--json`` file) stored under ``key`` when the code is 0 or 1."""
    chunks: list[list[str]] = []
    with _teed(chunks):
        code = run()
    store = _store(key)
    if code in (0, 1) and store is not None:
        target = _json_path(argv)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            document = None if target is None else Path(target).read_text()
            atomic_write(store, json.dumps({
                "format": FORMAT, "argv": argv, "code": code, "output": chunks, "json": document,
                "when": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}))
    return code
