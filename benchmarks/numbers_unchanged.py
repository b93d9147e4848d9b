"""Whether a change kept the numbers of a results document, by the performance issue's rule: the same status,
fitted slopes within 1e-3, and every error above 100 times its floor within 1e-6 relative of the old one.

    python benchmarks/numbers_unchanged.py OLD.json NEW.json            # `harness check --json` or results.json
    python benchmarks/numbers_unchanged.py OLD.json NEW.json --built-in  # the checks of built-in flows only

Checks are matched by game, rule and flow (as their JSON records them); a check in one document only is listed.
Prints the largest changes; exits 1 when one breaks the rule.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

SLOPE = 1e-3
ERROR = 1e-6
ABOVE_FLOOR = 100.0


def checks(path: str, built_in: bool) -> dict[str, dict]:
    """The document's results by their check's identity (game, rule, flow); ``built_in``: only built-in flows (no
    ``source``: the default matrix's, not the literature's)."""
    found = {}
    for result in json.load(open(path))["results"]:
        if built_in and "source" in result["flow"]:
            continue
        key = json.dumps([result["game"], result["scheme"], result["flow"], result["measure"]], sort_keys=True)
        found[key] = result
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--built-in", action="store_true", help="compare the checks of built-in flows only")
    args = parser.parse_args()
    old, new = checks(args.old, args.built_in), checks(args.new, args.built_in)
    broken = 0
    for key in sorted(set(old) ^ set(new)):
        print(f"only in {'old' if key in old else 'new'}: {key}")
        broken += 1
    slope_change, error_change, compared = 0.0, (0.0, ""), 0
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        if a["status"] != b["status"]:
            print(f"status {a['status']} -> {b['status']}: {key}")
            broken += 1
        if a["fitted_slope"] is not None and b["fitted_slope"] is not None:
            change = abs(a["fitted_slope"] - b["fitted_slope"])
            slope_change = max(slope_change, change)
            if change > SLOPE:
                print(f"slope {a['fitted_slope']:.6f} -> {b['fitted_slope']:.6f}: {key}")
                broken += 1
        for e_old, floor, e_new in zip(sum(a["errors"], []), sum(a["floor"], []), sum(b["errors"], []), strict=True):
            if e_old is None or floor is None or e_new is None or not e_old > ABOVE_FLOOR * floor:
                continue
            compared += 1
            change = abs(e_new - e_old) / e_old
            if change > error_change[0]:
                error_change = (change, key)
            if not change <= ERROR or math.isnan(change):
                broken += 1
    print(f"{len(set(old) & set(new))} checks compared: largest slope change {slope_change:.2g} (at most {SLOPE:g}); "
          f"{compared} errors above {ABOVE_FLOOR:g} times their floor, largest relative change "
          f"{error_change[0]:.2g} (at most {ERROR:g}){': ' + error_change[1] if error_change[1] else ''}")
    print("numbers kept" if not broken else f"{broken} changes break the rule")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
