"""Time ``opp browse`` from the start of a process to its first screen, on a (large) database.

    python bench/browse_startup.py --db BIG.db [--runs 5]

Each run is a new Python process that does what ``opp browse`` does (open the database, check the
filters, start the Textual app) headless at 80×24, and reports when the first screen is drawn with its
first page of deals and the first deal's detail. The wall time counted here runs from starting the
process to that report, so it includes the interpreter, the imports and the queries. Cases: the
default list (open deals by id), sorted by value (descending), and a search.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

OPP_NOW = "2026-07-01T00:00:00Z"  # bench/generate.py's REFERENCE_NOW
GOAL_SECONDS = 1.0

CHILD = """
import asyncio, os, sys, time
from opp.cli.browse.app import BrowseApp
from opp.cli.browse.data import Browser
from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.pipeline.scope import Scope

db, sort, search = sys.argv[1], sys.argv[2] or None, sys.argv[3] or None
ctx = open_context(db, actor="bench", clock=Clock.from_env_value(os.environ["OPP_NOW"]))
browser = Browser(ctx, Scope(search=search), sort=sort)
browser.check()
app = BrowseApp(browser)

async def first_screen():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.current is not None, "no deal on the first screen"
        print("FIRST_SCREEN", len(app.rows), flush=True)

asyncio.run(first_screen())
"""

CASES = {
    "open deals by id": ("", ""),
    "sorted by -value": ("-value", ""),
    "search 'acme'": ("", "acme"),
}


def one_run(db: str, sort: str, search: str) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, db, sort, search],
        stdout=subprocess.PIPE,
        text=True,
        env={"OPP_NOW": OPP_NOW, "PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("FIRST_SCREEN"):
            elapsed = time.perf_counter() - started
            break
    else:
        raise SystemExit(f"the app never showed its first screen (exit {process.wait()})")
    process.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the database (bench/generate.py makes one)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", help="also write the results as JSON to this file")
    args = parser.parse_args()
    one_run(args.db, "", "")  # warm the file cache
    results = {}
    for name, (sort, search) in CASES.items():
        times = [one_run(args.db, sort, search) for _ in range(args.runs)]
        median = statistics.median(times)
        results[name] = {"median": round(median, 3), "min": round(min(times), 3), "max": round(max(times), 3)}
        verdict = "ok" if median < GOAL_SECONDS else "FAIL"
        print(f"{name:<20} median {median:.3f} s  (min {min(times):.3f}, max {max(times):.3f})  {verdict}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump({"db": args.db, "goal_seconds": GOAL_SECONDS, "cases": results}, out, indent=2)


if __name__ == "__main__":
    main()
