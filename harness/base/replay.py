"""A repeated ``harness check`` or ``harness derive`` replayed: the same command over built-in games, rules, flows
and matrices, with the same harness files, Python, installed packages, environment and machine, prints what its
first run printed (stdout and stderr, in order), writes the same ``--json`` file and returns the same exit code,
without importing JAX (about 0.1 s where a run takes seconds: docs/performance.md).

The key (``run_key``) is a SHA-256 of: the arguments; every file of the harness package (linked folders
followed), and of the repository's literature/ folder when its matrix runs; Python's executable, version and
options; the names of the installed distributions' metadata folders on the import path (each holds a version);
the environment variables that steer JAX, XLA, the devices, the loader, NumPy, the BLAS threads, Python's imports
and the harness; the host name, machine, processor and NVIDIA driver; whether stdout and stderr are terminals.

A run is kept only when it ended with exit code 0 or 1, every module it imported and every file it opened for
reading came from the harness package (literature/ when hashed), the standard library or the site-packages folders
(harness.base.locations), files also from the cache folder, /proc, /sys, character devices and installed
distributions' metadata, it started no program and loaded no library by path (whose reads no audit hook sees; nor
are directory listings, file sizes and environment variables outside the key's), and the digest of the harness
files in its key, taken again when it ended, is unchanged (none edited while it ran). A kept run is replayed only
while no other folder on the import path (the current folder of ``python -m``, ``PYTHONPATH``) holds a module of
the names it imported. Never replayed (``run_key`` is None): a command that names a file of the user's (a game,
rule, flow, terms or matrix path: it may import code that the key cannot see), ``--watch``, ``--resume``,
``--merge``, ``--distributed``, ``--json`` twice, ``derive --out``, an option not spelled out in full, a closed
stdout or stderr, a harness file that cannot be read, or ``HARNESS_REPLAY=off``. The stored runs live beside the
kept results (the folder and suffix of harness.base.result_cache), so the same size cap evicts them and ``harness
cache clear`` removes them.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import os
import platform
import socket
import stat
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeGuard

from harness.base.cache_config import cache_folder
from harness.base.errors import UsageError
from harness.base.files import atomic_write, json_target
from harness.base.locations import library_roots
from harness.base.parallel import PROCESS_EVENT
from harness.base.version import __version__

PACKAGE = Path(__file__).resolve().parents[1]
LITERATURE = PACKAGE.parent / "literature"
FORMAT = 1
SWITCH = "HARNESS_REPLAY"
"""Environment variable: ``off`` (or ``0``, ``false``, ``no``) runs every command anew (nothing replayed, nothing
stored)."""

COMMANDS = {
    "check": ({"--all", "--literature", "--quiet", "--progress", "--no-budget"},
              {"--game", "--scheme", "--lr1", "--lr2", "--m", "--k", "--first", "--beta", "--gamma", "--mu", "--a",
               "--inner", "--base", "--cancel", "--strengthen", "--convention", "--optimizer", "--optimizer2",
               "--regime", "--step", "--flow", "--expected-slope", "--expected-status", "--measure", "--horizon",
               "--json", "--shard", "--param", "--jobs", "-j", "--points", "--step-sizes", "--decades", "--h-max",
               "--seed", "--tolerance", "--matrix"}),
    "derive": (set(), {"--scheme", "--order", "--players", "--lr1", "--lr2", "--m", "--k", "--first", "--beta",
                       "--gamma", "--mu", "--a", "--inner", "--base", "--cancel", "--strengthen", "--convention",
                       "--param", "--format"}),
}
"""The commands that may be replayed, each with its options without a value and with one (a value with ``.py`` or
a path in it only for ``--json``, where the run writes, and ``--shard I/N``); ``derive --out`` is not among them."""
BUNDLED = {"default", "large", "optimizers", "literature"}
"""``--matrix`` values that name a matrix shipped with the harness (harness.checks.matrix.BUNDLED_MATRICES)."""
ENVIRONMENT = ("HARNESS_", "JAX_", "XLA_", "TF_", "CUDA_", "NVIDIA_", "TPU_", "LIBTPU_", "ROCR_", "HIP_", "PJRT_",
               "LD_", "NPY_", "NUMPY_", "OMP_", "KMP_", "GOMP_", "MKL_", "OPENBLAS_", "PYTHON")
"""Prefixes of the environment variables in the key."""


def _options(argv: list[str]) -> list[tuple[str, str | None]] | None:
    """The (option, value) pairs of ``harness check`` or ``harness derive``, or None where the command may not be
    replayed."""
    if not argv or argv[0] not in COMMANDS:
        return None
    flags, valued = COMMANDS[argv[0]]
    pairs: list[tuple[str, str | None]] = []
    rest = iter(argv[1:])
    for token in rest:
        name, joined, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name.startswith("-j") and name != "-j" and not name.startswith("--"):  # -j2
            name, joined, value = "-j", "=", name[2:]
        if name in flags and not joined:
            pairs.append((name, None))
        elif name in valued:
            found = value if joined else next(rest, None)
            if found is None:
                return None
            pairs.append((name, found))
        else:
            return None
    if sum(option == "--json" for option, _ in pairs) > 1:  # argparse keeps the last: the run decides
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
    """Every file under ``folder`` (its path and bytes; linked folders followed, each once), compiled bytecode
    left out. OSError where a file cannot be read (or went away meanwhile)."""
    seen: set[str] = set()
    for top, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        for name in sorted(files):
            path = Path(top, name)
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")


def _installed() -> list[str]:
    """The metadata folders (``NAME-VERSION.dist-info``, ``.egg-info``) on the import path."""
    found = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            found += [name for name in os.listdir(entry or ".") if name.endswith((".dist-info", ".egg-info"))]
    return sorted(set(found))


def _machine() -> list[str]:
    """The host name, machine, processor model, NVIDIA driver and devices."""
    found = [socket.gethostname(), platform.machine(), platform.processor()]
    with contextlib.suppress(OSError):
        found += [line for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
                  if line.startswith("model name")][:1]
    with contextlib.suppress(OSError):
        found.append(Path("/proc/driver/nvidia/version").read_text(errors="replace"))
    with contextlib.suppress(OSError):
        found += sorted(name for name in os.listdir("/dev") if name.startswith("nvidia"))
    return found


@dataclass(frozen=True)
class Key:
    """A run's key (``text``, 64 hex digits: its stored run's file name) and the digest of the files in it
    (``files``), taken again when the run ends: a file edited meanwhile and the run is not kept."""

    text: str
    files: str


def run_key(argv: list[str], folder: Path = PACKAGE) -> Key | None:
    """The key of ``harness ARGV``'s stored run (module docstring), or None where it may not be replayed
    (``folder``: the harness package, whose every file is in the key)."""
    if os.environ.get(SWITCH, "").strip().lower() in ("off", "0", "false", "no"):
        return None
    pairs = _options(argv)
    if pairs is None or sys.stdout is None or sys.stderr is None:
        return None
    try:
        terminals = [sys.stdout.isatty(), sys.stderr.isatty()]
    except ValueError:  # a closed stream
        return None
    files = _files(argv, folder)
    if files is None:
        return None
    environment = sorted((name, value) for name, value in os.environ.items() if name.startswith(ENVIRONMENT))
    text = json.dumps([f"replay {FORMAT}", __version__, argv, files, sys.executable, sys.version, repr(sys.flags),
                       sys.warnoptions, repr(sys._xoptions), _installed(), environment, _machine(), terminals])
    return Key(hashlib.sha256(text.encode()).hexdigest(), files)


def _files(argv: list[str], folder: Path = PACKAGE) -> str | None:
    """The digest of every file of ``folder`` (the harness package), and of literature/ when its matrix runs;
    None where one cannot be read (or went away meanwhile)."""
    digest = hashlib.sha256()
    try:
        _folder_digest(folder, digest)
        if _uses_literature(argv) and LITERATURE.is_dir():
            _folder_digest(LITERATURE, digest)
    except OSError:
        return None
    return digest.hexdigest()


def _uses_literature(argv: list[str]) -> bool:
    pairs = _options(argv) or []
    return ("--literature", None) in pairs or ("--matrix", "literature") in pairs


def _json_path(argv: list[str]) -> str | None:
    pairs = _options(argv) or []
    return next((value for name, value in pairs if name == "--json"), None)


def _trusted(argv: list[str]) -> tuple[str, ...]:
    """Folders whose modules a kept run may import: the standard library, the site-packages folders, the harness
    package, and literature/ when its matrix runs (all in the key or in the installed distributions)."""
    extra = (os.path.join(os.path.realpath(LITERATURE), ""),) if _uses_literature(argv) else ()
    return library_roots() + extra


def _imported(argv: list[str]) -> list[str] | None:
    """The top-level names of the modules this process imported, or None when one of them came from outside the
    ``_trusted`` folders (a run that may not be kept)."""
    trusted, names = _trusted(argv), set()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) if isinstance(module, types.ModuleType) else None
        if file is None or name == "__main__":
            continue
        if not os.path.realpath(file).startswith(trusted):
            return None
        names.add(name.partition(".")[0])
    return sorted(names)


def _shadowed(names: list[str], argv: list[str]) -> bool:
    """Whether a folder on the import path outside the ``_trusted`` ones now holds a module of one of ``names``
    (it would be imported in place of the one the kept run used)."""
    trusted, wanted = _trusted(argv), set(names) - {"harness"}
    for entry in sys.path:
        folder = os.path.realpath(entry or ".")
        if os.path.join(folder, "").startswith(trusted) or not os.path.isdir(folder):
            continue
        with contextlib.suppress(OSError):
            if wanted & {name.partition(".")[0] for name in os.listdir(folder)}:
                return True
    return False


_OPENED: list[str] | None = None
"""The paths opened for reading while a run is recorded (``_audit``), else None."""
OUTSIDE = "<a process or a foreign library>"
"""What ``_audit`` notes for a program started, a helper process spawned (harness.base.parallel, for which Python
raises no event of its own) or a shared library loaded by path (ctypes): their reads are not seen, so such a run
is not kept."""
_STARTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "pty.spawn",
           PROCESS_EVENT)


def _audit(event: str, args: tuple) -> None:
    """Python's audit hook: note each path opened for reading (``open`` events of io.open and os.open), and
    ``OUTSIDE`` for a program started or a library loaded by path. Never raises into the code it observes."""
    opened = _OPENED
    if opened is None:
        return
    try:
        if event == "open" and not isinstance(args[0], int):
            path, mode, flags = args
            reading = ("r" in mode or "+" in mode) if isinstance(mode, str) else (
                (flags or 0) & os.O_ACCMODE != os.O_WRONLY)
            if reading:
                opened.append(os.fsdecode(path))
        elif event in _STARTS or (event == "ctypes.dlopen" and args[0] and os.sep in os.fsdecode(args[0])):
            opened.append(OUTSIDE)
    except Exception:  # noqa: BLE001  an event of unexpected arguments: noted as unknown, never raised
        opened.append(OUTSIDE)


def _read_elsewhere(argv: list[str], opened: list[str]) -> str | None:
    """The first path in ``opened`` (or ``OUTSIDE``) outside the ``_trusted`` folders, the cache folder, /proc and
    /sys, and not a character device (/dev/null, /dev/urandom, a GPU's), else None: a file of the user's that a
    catalog game may have read. The import path's own entries are probed, and the installed distributions'
    metadata read (entry points), wherever they are. Directory listings and file sizes are not seen."""
    cache = _cache()
    folders = ["/proc", "/sys"] + ([str(cache)] if cache is not None else [])
    allowed = _trusted(argv) + tuple(os.path.join(os.path.realpath(folder), "") for folder in folders)
    entries = {os.path.realpath(entry or ".") for entry in sys.path}
    for path in opened:
        if path == OUTSIDE:
            return path
        real = os.path.realpath(path)
        metadata = os.path.basename(os.path.dirname(real)).endswith((".dist-info", ".egg-info"))  # names in the key
        if real.startswith(allowed) or real in entries or metadata or _device(real):
            continue
        return path
    return None


def _device(path: str) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _cache() -> Path | None:
    """The cache folder: JAX's compilation cache folder, which the command line sets to ``cache_folder()`` unless
    $JAX_COMPILATION_CACHE_DIR names one; None when it is off."""
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or cache_folder()
    return None if folder.lower() == "off" else Path(folder)


def _store(key: Key) -> Path | None:
    """The stored run's file: ``KEY.result.json`` in the kept results' folder (``kernels/`` in the cache folder)."""
    cache = _cache()
    return None if cache is None else cache / "kernels" / f"{key.text}.result.json"


def _writable(target: str) -> bool:
    """Whether a replay may write ``--json`` at ``target``: where a run would (harness.base.files.json_target), with
    no partial results beside it, outside the harness's own folders (the run refuses the rest with its own error)."""
    try:
        json_target(target)
    except UsageError:
        return False
    resolved = Path(target).resolve()
    return not os.path.lexists(target + ".partial") and not any(
        resolved.is_relative_to(folder) for folder in (PACKAGE, LITERATURE))


def _valid(run: Any) -> TypeGuard[dict]:
    """Whether a stored run has every field, of its type (a damaged or older one is run again)."""
    return (isinstance(run, dict) and run.get("format") == FORMAT and run.get("code") in (0, 1)
            and isinstance(run.get("when"), str) and isinstance(run.get("json"), str | None)
            and isinstance(run.get("output"), list) and isinstance(run.get("modules"), list)
            and all(isinstance(name, str) for name in run["modules"])
            and all(isinstance(c, list) and len(c) == 2 and c[0] in ("out", "err") and isinstance(c[1], str)
                    for c in run["output"]))


def replayed(key: Key, argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int | None:
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
    if not _valid(run) or run.get("argv") != argv or _shadowed(run["modules"], argv):
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
        (out if stream == "out" else err).flush()  # in order where both streams go to one file
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


@functools.cache
def _hook() -> None:
    """Install ``_audit`` once per process (an audit hook cannot be removed; it does nothing between runs)."""
    sys.addaudithook(_audit)


def recorded(key: Key, argv: list[str], run: Callable[[], int]) -> int:
    """``run()``'s exit code, its output (and ``--json`` file) stored under ``key`` where the module docstring says
    a run is kept."""
    global _OPENED
    chunks: list[list[str]] = []
    opened: list[str] = []
    _hook()
    _OPENED = opened
    try:
        with _teed(chunks):
            code = run()
    finally:
        _OPENED = None
    store, modules = _store(key), _imported(argv)
    if (code in (0, 1) and store is not None and modules is not None and _read_elsewhere(argv, opened) is None
            and _files(argv) == key.files):
        target = _json_path(argv)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            document = None if target is None else Path(target).read_text()
            atomic_write(store, json.dumps({
                "format": FORMAT, "argv": argv, "code": code, "output": chunks, "json": document, "modules": modules,
                "when": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}))
    return code
