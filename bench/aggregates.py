"""Time opp's aggregates in-process, the best of N runs each, alternating in the same run (in-process
times are far steadier than whole processes on a busy machine):

- "convert all": every deal converted, at a factor of 1 for those in the reporting currency;
- "three reads": the deals in the reporting currency summed as they are, after a look-up for a deal
  in another currency and the sum and count of the overflow check (opp before the one read);
- "opp": opp as it is (one read when every deal is in the reporting currency);
- "plain": on SQLite, a plain ``sqlite3`` script summing the same columns straight from the covering
  index, no conversion (the floor for one currency).

    .venv/bin/python bench/aggregates.py --db /tmp/oppbench/100000.db [--runs 7] [--board]
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from opp.core.analytics import forecast as forecast_module
from opp.core.analytics.forecast import board, forecast, pipeline_board
from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.money import rates

_FIGURES = "count(*), sum(value_minor), sum((2 * value_minor * probability + 100) / 200)"
CASES: list[tuple[str, Callable[[Any], Any], str | None]] = [
    (
        "forecast --by stage --currency USD",
        lambda ctx: forecast(ctx, by="stage", currency="USD"),
        f"SELECT stage, {_FIGURES} FROM opportunities WHERE status IN ('open', 'won') GROUP BY stage",
    ),
    (
        "forecast --period 2026Q4 --currency USD",
        lambda ctx: forecast(ctx, by="stage", currency="USD", period="2026Q4"),
        f"SELECT stage, {_FIGURES} FROM opportunities WHERE status IN ('open', 'won') AND ("
        "(status = 'open' AND expected_close >= '2026-10-01' AND expected_close <= '2026-12-31')"
        " OR (status != 'open' AND closed_at >= '2026-10-01 00:00:00.000000'"
        " AND closed_at < '2027-01-01 00:00:00.000000')) GROUP BY stage",
    ),
    (
        "pipeline --currency USD",
        lambda ctx: pipeline_board(ctx, currency="USD"),
        f"SELECT stage, {_FIGURES} FROM opportunities WHERE status = 'open' GROUP BY stage",
    ),
]
BOARD = ("pipeline --board --currency USD", lambda ctx: board(ctx, currency="USD"), None)


def _three_reads(conn, deals, target, query_of, *, today, source=rates.o, direct=True):  # type: ignore[no-untyped-def]
    measures = rates.conversion(conn, deals, target, today=today, source=source)
    return measures, conn.execute(query_of(measures)).mappings().all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--board", action="store_true", help="also time the board with its cards")
    args = parser.parse_args()
    ctx = open_context(args.db, actor="bench", clock=Clock.from_env_value("2026-07-01T00:00:00Z"))
    plain = None if "://" in args.db else sqlite3.connect(args.db)
    original = forecast_module.converted_rows
    ways: dict[str, Any] = {
        "convert all": functools.partial(rates.converted_rows, direct=False),
        "three reads": _three_reads,
        "opp": original,
    }
    print(f"{'case':<42} " + " ".join(f"{way + ' ms':>15}" for way in [*ways, "plain"]))
    for name, call, sql in [*CASES, *([BOARD] if args.board else [])]:
        best = dict.fromkeys([*ways, "plain"], float("inf"))
        for _ in range(args.runs):
            for way, rows in ways.items():
                forecast_module.converted_rows = rows
                start = time.perf_counter()
                call(ctx)
                best[way] = min(best[way], time.perf_counter() - start)
            if plain is not None and sql is not None:
                start = time.perf_counter()
                plain.execute(sql).fetchall()
                best["plain"] = min(best["plain"], time.perf_counter() - start)
        forecast_module.converted_rows = original
        print(f"{name:<42} " + " ".join(f"{best[way] * 1000:>15.0f}" for way in best))
    ctx.close()


if __name__ == "__main__":
    main()
