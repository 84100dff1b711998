"""Time ``opp browse`` from the start of a process to its first screen, on a (large) database.

    python bench/browse_startup.py --db BIG.db [--runs 5]

Each run is a new Python process that does what ``opp browse`` does (open the database, check the
filters, start the Textual app) headless at 80×24, and reports when the first screen is drawn with its
first page of deals and the first deal's detail. The wall time counted here runs from starting the
process to that report, so it includes the interpreter, the imports and the queries. Cases: the
default list (open deals by id), sorted by value (descending), and a search.

Sorting by value across currencies sorts by the amount in the reporting currency, which a generated
database does not set: the script then runs that case on a copy of the database (in a temporary
directory, deleted after) with ``reporting_currency`` set to ``--currency`` (USD unless said); the
database given is only read. Beside each case it times the floor: the same process importing
SQLAlchemy and Textual and drawing an empty Textual app, without opp.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
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
        print("FIRST_SCREEN", len(app.rows), time.process_time(), flush=True)

asyncio.run(first_screen())
"""

FLOOR = """
import asyncio, sys, time
import sqlalchemy
from textual.app import App
from textual.widgets import Static

class Empty(App):
    def compose(self):
        yield Static("first screen")

async def first_screen():
    async with Empty().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print("FIRST_SCREEN", 0, time.process_time(), flush=True)

asyncio.run(first_screen())
"""

CASES: dict[str, tuple[str, ...]] = {
    "open deals by id": ("", ""),
    "sorted by -value": ("-value", ""),
    "search 'acme'": ("", "acme"),
}


def one_run(db: str, sort: str, search: str, child: str = CHILD) -> tuple[float, float]:
    """The wall time to the first screen, and the CPU time the process had used by then (less
    sensitive than the wall time to the other work on a shared machine)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", child, db, sort, search],
        stdout=subprocess.PIPE,
        text=True,
        env={"OPP_NOW": OPP_NOW, "PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("FIRST_SCREEN"):
            elapsed = time.perf_counter() - started
            cpu = float(line.split()[2])
            break
    else:
        raise SystemExit(f"the app never showed its first screen (exit {process.wait()})")
    process.wait()
    return elapsed, cpu


def reporting_currency(db: str) -> str | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT value FROM settings WHERE key = 'reporting_currency'").fetchone()
    return row[0] if row else None


def copy_with_currency(db: str, currency: str, directory: str) -> str:
    """A copy of ``db`` (read through SQLite's backup, so a WAL is included) with the reporting
    currency set."""
    copy = os.path.join(directory, "with-currency.db")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as conn:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('reporting_currency', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (currency,),
        )
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the database (bench/generate.py makes one)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--currency",
        default="USD",
        help="the reporting currency to sort by value in, when the database sets none",
    )
    parser.add_argument("--out", help="also write the results as JSON to this file")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="opp-browse-bench-")
    try:
        sorted_db = args.db
        if reporting_currency(args.db) is None:
            sorted_db = copy_with_currency(args.db, args.currency, scratch)
            print(f"(sorting by value on a copy with reporting_currency {args.currency})")
        with open("/proc/loadavg", encoding="ascii") as load:
            print("load average:", " ".join(load.read().split()[:3]))
        one_run(args.db, "", "")  # warm the file cache
        one_run(sorted_db, "-value", "")
        results = {}
        cases = {"floor (SQLAlchemy, an empty Textual app)": ("", "", FLOOR), **CASES}
        floor = 0.0
        for name, (sort, search, *child) in cases.items():
            db = sorted_db if sort else args.db
            runs = [one_run(db, sort, search, *child) for _ in range(args.runs)]
            times = [wall for wall, _ in runs]
            median, cpu = statistics.median(times), statistics.median(cpu for _, cpu in runs)
            results[name] = {
                "median": round(median, 3),
                "min": round(min(times), 3),
                "max": round(max(times), 3),
                "cpu": round(cpu, 3),
            }
            if child:
                floor = median
                verdict = ""
            else:
                verdict = f"floor + {median - floor:.3f} s  " + ("ok" if median < GOAL_SECONDS else "FAIL")
            print(
                f"{name[:20]:<20} median {median:.3f} s  (min {min(times):.3f}, max {max(times):.3f})"
                f"  cpu {cpu:.3f} s  {verdict}"
            )
        with open("/proc/loadavg", encoding="ascii") as load:
            print("load average:", " ".join(load.read().split()[:3]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump({"db": args.db, "goal_seconds": GOAL_SECONDS, "cases": results}, out, indent=2)


if __name__ == "__main__":
    main()
