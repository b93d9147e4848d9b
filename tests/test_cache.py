"""The caches on disk: where they are (HARNESS_CACHE_DIR, XDG_CACHE_HOME), their size cap with least recently
used eviction, and `harness cache info` / `harness cache clear`."""

import json
import os
import subprocess
import sys

from harness.measure.kernel_cache import evict, evict_programs


def harness_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=600,
                          env=env)


LINES = """
import contextlib, io, json, sys
from harness.cli import main
for argv in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    print(json.dumps([code, out.getvalue()]))
"""


def harness_lines(*argvs, env):
    """Several ``harness`` commands one after the other in one process (Python and JAX started once, not once
    each): each one's exit code and output."""
    result = subprocess.run([sys.executable, "-c", LINES, json.dumps(argvs)], capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_default_folder_follows_xdg_cache_home(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    result = harness_cli("cache", "info", env=env)
    assert result.returncode == 0, result.stderr
    assert f"cache folder: {tmp_path / 'xdg' / 'discretization-drift-harness' / 'jax'} " in result.stdout
    off = harness_cli("cache", "info", env={**env, "HARNESS_CACHE_DIR": "off"})
    assert off.stdout.strip() == "the caches are off (HARNESS_CACHE_DIR=off)"


def test_the_least_recently_used_kernels_are_evicted_beyond_the_cap(tmp_path):
    for age in range(5):
        path = tmp_path / f"k{age}.jaxexport"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1_000_000 + age, 1_000_000 + age))
    removed = evict(tmp_path, 250)
    assert sorted(p.name for p in removed) == ["k0.jaxexport", "k1.jaxexport", "k2.jaxexport"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k3.jaxexport", "k4.jaxexport"]
    assert evict(tmp_path, 250) == []


def test_the_least_recently_used_compiled_programs_are_evicted_with_their_access_files(tmp_path):
    for age, with_atime in enumerate((True, False, True, False, True)):
        entry = tmp_path / f"jit_p{age}-cache"
        entry.write_bytes(b"x" * 100)
        os.utime(entry, (2_000_000 - age, 2_000_000 - age))  # entries written in the opposite order...
        if with_atime:  # ...but JAX's access-time file, where there is one, says when each was last used
            stamp = tmp_path / f"jit_p{age}-atime"
            stamp.write_bytes(b"")
            os.utime(stamp, (1_000_000 + age, 1_000_000 + age))
    removed = evict_programs(tmp_path, 250)
    assert sorted(p.name for p in removed) == ["jit_p0-cache", "jit_p2-cache", "jit_p4-cache"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jit_p1-cache", "jit_p3-cache"]


def test_cache_info_counts_what_a_check_wrote_and_clear_empties_it(tmp_path):
    env = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    assert harness_cli("check", "--game", "dirac_gan", "--points", "1", "--flow", "gradient", env=env).returncode == 0
    # a later process, as a user's next commands: info, clear and info again share its start
    (code, info), (cleared_code, cleared), (_, after) = harness_lines(["cache", "info"], ["cache", "clear"],
                                                                      ["cache", "info"], env=env)
    info, after = info.splitlines(), after.splitlines()
    kernels = int(info[1].split(": ")[1].split()[0])
    programs = int(info[2].split(": ")[1].split()[0])
    assert code == 0 and kernels >= 2 and programs >= 2, info
    assert cleared_code == 0 and cleared.startswith(f"removed {kernels + programs} files"), cleared
    assert after[1].startswith("traced kernels: 0 files") and after[2].startswith("compiled programs: 0 files")
