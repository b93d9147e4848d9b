"""How one order check's time and memory grow with the game's size: MLP GANs of about 10^3 to 10^6 parameters.

For each size, a fresh process builds ``mlp_gan_of_size(n)`` (harness/games/mlp_gan.py: two tanh layers per network,
the width nearest n parameters) and runs one check against the gradient flow and one against the first-order
modified flow (simultaneous GD, the large matrix's 2 points x 8 step sizes over 1.5 decades, the grid ending at
h_max = 0.1 / |dF/dz|, so that it follows each game's time scale), each twice: cold (the persistent caches
off, so every kernel is traced and compiled) and warm (the same call again). It records the seconds, the
process's peak RSS, h_max and the fitted slopes (expected: 2 and 3). A size that fails (out of memory, over
``--timeout``) is recorded with the reason. Writes ``--out``.md (a table) and ``--out``.svg (a plot). Run:

    nice -n 10 python benchmarks/size_scaling.py [--sizes 1e3 1e4 1e5 1e6] [--note "quiet machine"]
        [--host-devices 4] [--param-shards 2] [--merge]

``--host-devices`` splits the sweep over that many CPU devices (harness.measure.sweep_mesh), ``--param-shards``
sets HARNESS_PARAM_SHARDS. ``--merge`` keeps the rows of other sizes from an earlier run (``--out``.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOWS = ("gradient", "modified")
EXPECTED = {"gradient": 2.0, "modified": 3.0}

ONE_SIZE = """
import json, resource, sys, time
import harness
from harness.games.mlp_gan import mlp_gan_of_size, width_for
game = mlp_gan_of_size(int(sys.argv[1]))
points, step_sizes, scheme = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
row = {"parameters": game.z0.size, "width": width_for(int(sys.argv[1]))}
for flow in ("gradient", "modified"):
    for label in ("cold", "warm"):
        start = time.perf_counter()
        result = harness.check(game, scheme, flow, points=points, step_sizes=step_sizes)
        row[f"{flow}_{label}"] = time.perf_counter() - start
    row[f"{flow}_slope"], row[f"{flow}_status"] = result.fit.slope, result.fit.status
    row["h_max"] = float(result.measurement.step_sizes[-1])
row["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(row))
"""


def measure(size: int, args: argparse.Namespace) -> dict:
    """One size in a fresh process: its row, or the reason it stopped."""
    env = {**os.environ, "HARNESS_CACHE_DIR": "off", "PYTHONPATH": str(HERE.parent)}
    if args.host_devices:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={args.host_devices}"
    if args.param_shards:
        env["HARNESS_PARAM_SHARDS"] = str(args.param_shards)
    start = time.perf_counter()
    try:
        run = subprocess.run([sys.executable, "-c", ONE_SIZE, str(size), str(args.points), str(args.step_sizes),
                              args.scheme], env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"size": size, "stopped": f"over the time limit ({args.timeout} s)"}
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        killed = " (killed: out of memory?)" if run.returncode < 0 else ""
        return {"size": size, "stopped": f"exit {run.returncode}{killed}: {last[:200]}",
                "seconds": time.perf_counter() - start}
    measured, load = time.strftime("%Y-%m-%d", time.gmtime()), os.getloadavg()[1]
    return {"size": size, "measured": measured, "load": load, **json.loads(run.stdout.strip().splitlines()[-1])}


def table(rows: list[dict], args: argparse.Namespace) -> str:
    import jax

    devices = f"{args.host_devices} CPU devices" if args.host_devices else "1 device"
    sizes = " ".join(str(row["size"]) for row in rows)
    dates = ", ".join(sorted({row["measured"] for row in rows if "measured" in row}))
    lines = [
        "# One order check against the MLP GAN's size",
        "",
        f"`python benchmarks/size_scaling.py --sizes {sizes}`"
        f"{' --host-devices ' + str(args.host_devices) if args.host_devices else ''}"
        f"{' --param-shards ' + str(args.param_shards) if args.param_shards else ''}: simultaneous GD, "
        f"{args.points} points x {args.step_sizes} step sizes (1.5 decades up to h_max = 0.1 / |dF/dz|), one fresh "
        "process per size with the persistent caches off; cold = first check (tracing and compiling its kernels; "
        "the modified flow's check comes second and reuses what the two share: the power iteration for h_max, the "
        "rule's error-series kernel), warm = the same check again. Peak RSS: the whole process. Load: the machine's "
        "5-minute load average as the size finished (above the CPU count, other jobs shared the CPUs).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {devices}, jax {jax.__version__}"
        f"{', measured ' + dates if dates else ''}. {args.note}".rstrip(),
        "",
        "| parameters | width | h_max | gradient flow: cold s | warm s | slope | modified flow: cold s | warm s "
        "| slope | peak RSS | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "stopped" in row:
            lines.append(f"| ~{row['size']:,} | | | stopped: {row['stopped']} | | | | | | | |")
            continue
        cells = [f"{row['parameters']:,}", str(row["width"]), f"{row['h_max']:.3g}"]
        for flow in FLOWS:
            status = "" if row[f"{flow}_status"] == "PASS" else f" {row[f'{flow}_status']}"
            cells += [f"{row[f'{flow}_cold']:.1f}", f"{row[f'{flow}_warm']:.1f}", f"{row[f'{flow}_slope']:.3f}{status}"]
        cells += [f"{row['peak_rss'] / 1e9:.2f} GB", f"{row['load']:.1f}" if "load" in row else ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [row for row in rows if "stopped" not in row]
    sizes = [row["parameters"] for row in done]
    figure, (times, memory) = plt.subplots(1, 2, figsize=(10, 4))
    for flow, color in zip(FLOWS, ("C0", "C3"), strict=True):
        for label, style in (("cold", "o--"), ("warm", "o-")):
            times.loglog(sizes, [row[f"{flow}_{label}"] for row in done], style, color=color,
                         label=f"{flow} flow, {label}")
    times.set(xlabel="parameters", ylabel="seconds, one order check", title="time")
    times.legend(fontsize=8)
    memory.loglog(sizes, [row["peak_rss"] / 1e9 for row in done], "o-")
    memory.set(xlabel="parameters", ylabel="peak RSS (GB)", title="memory")
    for axes in (times, memory):
        axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, metadata={"Date": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6])
    parser.add_argument("--points", type=int, default=2)
    parser.add_argument("--step-sizes", type=int, default=8)
    parser.add_argument("--scheme", default="simultaneous")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per size")
    parser.add_argument("--host-devices", type=int, default=0)
    parser.add_argument("--param-shards", type=int, default=0)
    parser.add_argument("--note", default="", help="a line under the table, e.g. whether the machine was shared")
    parser.add_argument("--out", type=Path, default=HERE / "size_scaling")
    parser.add_argument("--merge", action="store_true", help="keep the earlier run's rows of other sizes")
    args = parser.parse_args()
    saved = args.out.with_suffix(".json")
    sizes = [int(size) for size in args.sizes]
    rows = [row for row in json.loads(saved.read_text()) if row["size"] not in sizes] if args.merge else []
    for size in sizes:
        start = time.perf_counter()
        row = measure(size, args)
        rows = sorted([*rows, row], key=lambda row: row["size"])
        if "stopped" in row:
            print(f"~{size:,} parameters: stopped, {row['stopped']}", flush=True)
        else:
            print(f"{row['parameters']:,} parameters: " + ", ".join(
                f"{flow} {row[f'{flow}_cold']:.1f} s cold / {row[f'{flow}_warm']:.1f} s warm, slope "
                f"{row[f'{flow}_slope']:.3f}" for flow in FLOWS)
                + f", peak RSS {row['peak_rss'] / 1e9:.2f} GB ({time.perf_counter() - start:.0f} s)", flush=True)
        saved.write_text(json.dumps(rows, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(table(rows, args))
    plot(rows, args.out.with_suffix(".svg"))
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.svg')}")


if __name__ == "__main__":
    main()
