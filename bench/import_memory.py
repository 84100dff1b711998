"""Import 100,000 generated rows and print the peak memory: the import streams, so the peak stays flat
however long the file is. Not a timed test; run it by hand:

    .venv/bin/python bench/import_memory.py [ROWS] [--tracemalloc]

Prints the peak resident set size of the process (resource.getrusage), and with --tracemalloc also the
peak of Python's own allocations during the import (slower: tracemalloc traces every allocation).
"""

from __future__ import annotations

import csv
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.transfer.importer import ImportOptions, import_deals

STAGES = ("lead", "qualification", "proposal", "negotiation", "won", "lost")


def write_rows(path: Path, count: int) -> None:
    """A file in opp's columns: 2,000 customers, 40 assignees, every stage, a close date on each row."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["title", "customer", "value", "currency", "stage", "expected_close", "external_ref",
                         "assignee", "description", "created_at"])  # fmt: skip
        for n in range(count):
            writer.writerow([
                f"Customer {n % 2000} - Deal {n}",
                f"Customer {n % 2000}",
                f"{(n % 997) * 100 + 50}.25",
                "EUR" if n % 3 else "USD",
                STAGES[n % len(STAGES)],
                f"2026-{n % 12 + 1:02d}-15",
                f"BENCH-{n}",
                f"agent-{n % 40}",
                "Generated for the memory benchmark; " * 3,
                "2025-01-02",
            ])  # fmt: skip


def max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024  # KiB on Linux, bytes on macOS


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rows = int(args[0]) if args else 100_000
    trace = "--tracemalloc" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "deals.csv"
        write_rows(source, rows)
        ctx = open_context(
            str(Path(tmp) / "bench.db"), actor="bench", clock=Clock.from_env_value("2026-03-10T08:00:00Z")
        )
        rss_before = max_rss_mib()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        summary = import_deals(ctx, source, ImportOptions())
        elapsed = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        ctx.close()
        size = source.stat().st_size / 2**20
    print(f"imported {summary.created:,} rows ({size:.1f} MiB of CSV) in {elapsed:.1f} s")
    print(f"peak RSS: {max_rss_mib():.1f} MiB (before the import: {rss_before:.1f} MiB)")
    if traced_peak is not None:
        print(f"peak of Python allocations during the import (tracemalloc): {traced_peak:.1f} MiB")


if __name__ == "__main__":
    main()
