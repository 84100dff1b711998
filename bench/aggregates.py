"""Time opp's aggregates in-process, converting every deal (as before) and summing the deals already
in the reporting currency directly, alternating the two, the best of N runs each (in-process times
are far steadier than whole processes on a busy machine).

    .venv/bin/python bench/aggregates.py --db /tmp/oppbench/100000.db [--runs 7]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

from opp.core.analytics import forecast as forecast_module
from opp.core.analytics.forecast import board, forecast, pipeline_board
from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.money import rates

CASES: list[tuple[str, Callable[[Any], Any]]] = [
    ("forecast --by stage --currency USD", lambda ctx: forecast(ctx, by="stage", currency="USD")),
    (
        "forecast --period 2026Q4 --currency USD",
        lambda ctx: forecast(ctx, by="stage", currency="USD", period="2026Q4"),
    ),
    ("pipeline --currency USD", lambda ctx: pipeline_board(ctx, currency="USD")),
    ("pipeline --board --currency USD", lambda ctx: board(ctx, currency="USD")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ctx = open_context(args.db, actor="bench", clock=Clock.from_env_value("2026-07-01T00:00:00Z"))
    original = forecast_module.conversion
    converting = functools.partial(rates.conversion, direct=False)
    print(f"{'case':<42} {'convert all ms':>15} {'direct ms':>10}")
    for name, call in CASES:
        best = {"all": float("inf"), "direct": float("inf")}
        for _ in range(args.runs):
            for way, conversion in (("all", converting), ("direct", original)):
                forecast_module.conversion = conversion  # type: ignore[assignment]
                start = time.perf_counter()
                call(ctx)
                best[way] = min(best[way], time.perf_counter() - start)
        forecast_module.conversion = original
        print(f"{name:<42} {best['all'] * 1000:>15.0f} {best['direct'] * 1000:>10.0f}")
    ctx.close()


if __name__ == "__main__":
    main()
