"""How wide a forecast's outcome may be: P10/P50/P90 of the revenue of the deals a forecast covers.

Each open deal is an independent win at its probability (won deals certain). The distribution is
computed exactly while it has at most :data:`EXACT_LIMIT` distinct totals, else estimated by a seeded
simulation (Monte Carlo), so the same deals always give the same figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func

from opp.core.analytics.forecast import forecast_selection
from opp.core.context import Context
from opp.core.money.amounts import from_minor
from opp.core.pipeline.scope import Scope, scope_of
from opp.core.records import Record

#: The most distinct totals the exact distribution may have before the simulation takes over.
EXACT_LIMIT = 20_000
#: Draws of the simulation, and its fixed seed: the same deals always give the same figures.
TRIALS = 10_000
SEED = 20260101
#: Deals drawn together by the simulation (a block's draws take about 10 MB).
SIMULATION_BLOCK = 128
QUANTILES = (("p10", Fraction(1, 10)), ("p50", Fraction(1, 2)), ("p90", Fraction(9, 10)))


@dataclass(frozen=True)
class ForecastRange(Record):
    """Where the revenue of the deals may land: P10 is the total reached or beaten in 90 % of outcomes.

    ``forecast`` is the same figure ``opp forecast`` gives (the distribution's mean, per deal rounded);
    ``minimum`` is the revenue already won (or certain), ``maximum`` that of every deal won.
    """

    currency: str
    count: int
    method: str
    trials: int | None
    seed: int | None
    minimum: Decimal
    p10: Decimal
    p50: Decimal
    p90: Decimal
    maximum: Decimal
    forecast: Decimal


def forecast_range(
    ctx: Context,
    scope: Scope | None = None,
    *,
    currency: str | None = None,
    exact_limit: int = EXACT_LIMIT,
    **filters: Any,
) -> ForecastRange:
    """P10/P50/P90 of the revenue of the deals ``opp forecast`` would cover with the same scope (or
    filters, see :func:`opp.core.analytics.forecast.forecast_scope`).

    Each open deal is won (its whole converted value) with its probability, independently of the
    others; won deals count in full. Deals with the same value and probability come back from SQL
    as one row with a count.
    """
    with ctx.reading() as conn:
        chosen, measures = forecast_selection(conn, ctx, scope_of(scope, **filters), currency)
        value = measures.value.label("value")
        query = chosen.deals.with_only_columns(
            value,
            chosen.source.c.probability.label("probability"),
            func.count().label("count"),
            func.sum(measures.forecast).label("forecast"),
        ).group_by(measures.value, chosen.source.c.probability)
        rows = conn.execute(query).mappings().all()
    code = measures.currency
    deals = [(int(row["value"]), int(row["probability"]), int(row["count"])) for row in rows]
    certain = sum(v * n for v, p, n in deals if p >= 100)
    chances = [(v, p) for v, p, n in deals if 0 < p < 100 and v > 0 for _ in range(n)]
    quantiles = _exact_quantiles(chances, exact_limit)
    method, trials, seed = "exact", None, None
    if quantiles is None:
        quantiles = _simulated_quantiles(chances, TRIALS, SEED)
        method, trials, seed = "simulation", TRIALS, SEED
    p10, p50, p90 = (from_minor(certain + q, code) for q in quantiles)
    return ForecastRange(
        currency=code,
        count=sum(n for _, _, n in deals),
        method=method,
        trials=trials,
        seed=seed,
        minimum=from_minor(certain, code),
        p10=p10,
        p50=p50,
        p90=p90,
        maximum=from_minor(certain + sum(v for v, _ in chances), code),
        forecast=from_minor(sum(int(row["forecast"]) for row in rows), code),
    )


def _exact_quantiles(chances: Sequence[tuple[int, int]], limit: int) -> list[int] | None:
    """The exact quantiles of the sum of independent wins, or None when the distribution would have
    more than ``limit`` distinct totals.

    Each total's weight is an integer out of 100^n (probabilities are whole percentages), so no
    rounding can move a quantile across a boundary: P(total ≤ t) ≥ q is decided exactly.
    """
    weights: dict[int, int] = {0: 1}
    for value, chance in chances:
        following: defaultdict[int, int] = defaultdict(int)
        for total, weight in weights.items():
            following[total] += weight * (100 - chance)
            following[total + value] += weight * chance
        if len(following) > limit:
            return None
        weights = following
    whole = 100 ** len(chances)
    ordered = sorted(weights.items())
    found = []
    for _, q in QUANTILES:
        cumulative = 0
        for total, weight in ordered:
            cumulative += weight
            if cumulative * q.denominator >= whole * q.numerator:
                found.append(total)
                break
    return found


def _simulated_quantiles(chances: Sequence[tuple[int, int]], trials: int, seed: int) -> list[int]:
    """The same quantiles of ``trials`` seeded draws: the smallest drawn total with at least the share
    q of the draws at or below it.

    Drawn with numpy (imported here, only when a simulation is needed), a block of deals at a time:
    each deal is won in a draw when a uniform number falls below its probability, and the totals are
    the values of the won deals summed in integer minor units, so thousands of deals take a fraction
    of a second and the same deals always give the same figures.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    totals = np.zeros(trials, dtype=np.int64)
    for start in range(0, len(chances), SIMULATION_BLOCK):
        block = chances[start : start + SIMULATION_BLOCK]
        values = np.array([value for value, _ in block], dtype=np.int64)
        odds = np.array([chance / 100 for _, chance in block], dtype=np.float32)
        won = rng.random((len(block), trials), dtype=np.float32) < odds[:, None]
        totals += values @ won.astype(np.int64)
    totals.sort()
    return [int(totals[-(-q.numerator * trials // q.denominator) - 1]) for _, q in QUANTILES]
