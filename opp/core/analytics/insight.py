"""Beyond the forecast's single figure: how wide the outcome may be, whether the team's probabilities
can be trusted, and what history says a deal's probability should be.

- :func:`forecast_range`: P10/P50/P90 of the revenue of the deals a forecast covers, each open deal an
  independent win at its probability (won deals certain). The distribution is computed exactly while
  it has at most :data:`EXACT_LIMIT` distinct totals, else estimated by a seeded simulation.
- :func:`calibration`: for closed deals, the probability each carried when it last left each open
  stage, by probability band, against how often those deals were won.
- :func:`suggest`: an empirical win probability for an open deal from the closed deals that reached its
  stage, refined by customer kind, assignee and value band (naive Bayes with smoothing for small
  counts, in the spirit of Odoo's predictive lead scoring). It is only shown, never applied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, func, select
from sqlalchemy import cast as sql_cast

from opp.core.analytics.forecast import scope
from opp.core.context import Context
from opp.core.dates import day_end_exclusive, parse_period, start_of_day_utc
from opp.core.errors import Conflict, Invalid
from opp.core.money.amounts import from_minor, minor_unit
from opp.core.pipeline.deals import fetch_deals
from opp.core.pipeline.stages import load_pipeline
from opp.core.pipeline.users import user_id
from opp.core.records import Record
from opp.core.refs import parse_id
from opp.store import schema
from opp.store.dialect import json_text_field

o = schema.opportunities
h = schema.history
cu = schema.customers
us = schema.users

# -- forecast range ------------------------------------------------------------------------------------

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
    *,
    stages: Sequence[str] = (),
    assignee: str | None = None,
    period: str | None = None,
    close_from: str | None = None,
    close_to: str | None = None,
    currency: str | None = None,
    as_of: str | None = None,
    exact_limit: int = EXACT_LIMIT,
) -> ForecastRange:
    """P10/P50/P90 of the revenue of the deals ``opp forecast`` would cover with the same options.

    Each open deal is won (its whole converted value) with its probability, independently of the
    others; won deals count in full. Deals with the same value and probability come back from SQL
    as one row with a count.
    """
    with ctx.reading() as conn:
        chosen = scope(
            conn,
            ctx,
            statuses=("open", "won"),
            stages=stages,
            assignee=assignee,
            period=period,
            close_from=close_from,
            close_to=close_to,
            as_of=as_of,
        )
        measures = chosen.measures(conn, ctx, currency)
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


# -- calibration ---------------------------------------------------------------------------------------

#: Probability bands of 20 points (the last takes 80 to 100): each default stage probability
#: (15, 30, 50, 75) falls in a band of its own.
BANDS = ((0, 19), (20, 39), (40, 59), (60, 79), (80, 100))


@dataclass(frozen=True)
class CalibrationBand(Record):
    """Of the times a closed deal left an open stage carrying a probability in this band: how many,
    how many of those deals were won, the mean probability carried and the share won (0-1)."""

    key: str | None
    band: str
    count: int
    won: int
    expected: Decimal | None
    win_rate: Decimal | None
    gap: Decimal | None


def _band_label(low: int, high: int) -> str:
    return f"{low}-{high}"


def _band_of(probability: ColumnElement[Any]) -> ColumnElement[int]:
    return case(
        *((probability <= high, index) for index, (_, high) in enumerate(BANDS)), else_=len(BANDS) - 1
    )


def _rate(part: Fraction | int, whole: int) -> Decimal | None:
    """part / whole rounded half up to four decimals; None when there is nothing to divide."""
    return None if whole == 0 else _fraction_rate(Fraction(part) / whole)


def calibration(
    ctx: Context, *, by: str | None = None, period: str | None = None, assignee: str | None = None
) -> list[CalibrationBand]:
    """How well the probabilities deals carried predicted their outcome, by probability band.

    Every closed deal (won or lost; ``period`` keeps those closed in it, ``assignee`` those assigned
    to that user now) gives one observation per open stage it was ever in: the probability it carried
    when it last left that stage (its move out of the stage, from history). ``expected`` is the mean
    of those probabilities (as 0-1), ``win_rate`` the share of the observations whose deal was won,
    ``gap`` = win_rate - expected: well calibrated probabilities have a gap near 0, a negative gap
    means deals in that band are won less often than their probability says. Without ``by`` every
    band is listed, empty ones included; ``by="stage"`` gives the bands observed in each stage.
    """
    if by is not None and by.strip().lower() != "stage":
        raise Invalid(f"cannot split calibration by {by!r}", hint="use --by stage")
    with ctx.reading() as conn:
        pipeline = load_pipeline(conn)
        open_keys = [stage.key for stage in pipeline.open_stages]
        closed = select(o.c.id).where(o.c.status.in_(["won", "lost"]))
        if period is not None:
            chosen = parse_period(period, ctx.clock.today())
            closed = closed.where(
                o.c.closed_at >= start_of_day_utc(chosen.start).replace(tzinfo=None),
                o.c.closed_at < day_end_exclusive(chosen.end).replace(tzinfo=None),
            )
        if assignee is not None:
            closed = closed.where(o.c.assignee_id == user_id(conn, assignee))
        leaves = (
            select(
                h.c.opportunity_id.label("deal"),
                h.c.old.label("stage"),
                func.max(h.c.id).label("event_id"),
            )
            .where(h.c.field == "stage", h.c.old.in_(open_keys), h.c.opportunity_id.in_(closed))
            .group_by(h.c.opportunity_id, h.c.old)
            .subquery("leaves")
        )
        earlier = h.alias("earlier")
        before_leaving = (
            select(earlier.c.new)
            .where(
                earlier.c.opportunity_id == leaves.c.deal,
                earlier.c.field == "probability",
                earlier.c.id < leaves.c.event_id,
            )
            .order_by(earlier.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        created = h.alias("created")
        initial = (
            select(json_text_field(conn.dialect.name, created.c.new, "probability"))
            .where(created.c.opportunity_id == leaves.c.deal, created.c.action == "created")
            .limit(1)
            .scalar_subquery()
        )
        observations = (
            select(
                leaves.c.stage,
                sql_cast(func.coalesce(before_leaving, initial), Integer).label("probability"),
                case((o.c.status == "won", 1), else_=0).label("won"),
            )
            .join(o, o.c.id == leaves.c.deal)
            .cte("observations")
            # Computed once per observation: inlined, its correlated look-ups would run again for
            # every use of the probability in the band and the sums.
            .prefix_with("MATERIALIZED")
        )
        band = _band_of(observations.c.probability).label("band")
        keys = [observations.c.stage] if by is not None else []
        query = select(
            *keys,
            band,
            func.count().label("count"),
            func.sum(observations.c.won).label("won"),
            func.sum(observations.c.probability).label("probability"),
        ).group_by(*keys, band)
        rows = conn.execute(query).mappings().all()
    found = {(row.get("stage"), row["band"]): row for row in rows}
    order = {key: index for index, key in enumerate(open_keys)}
    wanted = (
        sorted(found, key=lambda pair: (order.get(pair[0] or "", len(order)), pair[0] or "", pair[1]))
        if by is not None
        else [(None, index) for index in range(len(BANDS))]
    )
    bands = []
    for stage, index in wanted:
        row = found.get((stage, index))
        count, won, carried = (row["count"], int(row["won"]), int(row["probability"])) if row else (0, 0, 0)
        expected = Fraction(carried, 100 * count) if count else None
        gap = _rate(Fraction(won, count) - expected, 1) if count and expected is not None else None
        bands.append(
            CalibrationBand(
                key=stage,
                band=_band_label(*BANDS[index]),
                count=count,
                won=won,
                expected=_rate(Fraction(carried, 100), count),
                win_rate=_rate(won, count),
                gap=gap,
            )
        )
    return bands


# -- suggestion ----------------------------------------------------------------------------------------

#: Pseudo-deals of smoothing: a group of n closed deals with w won has the rate (w + M·r) / (n + M),
#: r being the rate it is refined from, so a handful of deals moves the estimate only a little.
SMOOTHING = 5
#: Value bands, in whole units of the deal's currency: below 1k, 1k-10k, 10k-100k, 100k-1m, 1m and over.
VALUE_BANDS = (0, 1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class Factor(Record):
    """One refinement: the closed deals that reached the stage and share the deal's value of ``factor``."""

    factor: str
    value: str | None
    deals: int
    won: int
    rate: Decimal


@dataclass(frozen=True)
class Suggestion(Record):
    """An empirical probability beside the one the deal carries; apply it with ``opp edit ID -p N``."""

    id: int
    title: str
    stage: str
    probability: int
    suggested: int | None
    closed: int
    reached: int
    won: int
    stage_rate: Decimal | None
    factors: list[Factor]


def _value_band(value_minor: int, currency: str) -> tuple[int, int | None, str]:
    """The deal's value band as minor-unit bounds [low, high) and a label such as ``EUR 10k-100k``."""
    scale = 10 ** minor_unit(currency)
    major = value_minor // scale
    index = max(i for i, low in enumerate(VALUE_BANDS) if major >= low)
    names = ("0", "1k", "10k", "100k", "1m")
    low = VALUE_BANDS[index] * scale
    if index + 1 < len(VALUE_BANDS):
        return low, VALUE_BANDS[index + 1] * scale, f"{currency} {names[index]}-{names[index + 1]}"
    return low, None, f"{currency} {names[index]} and over"


def _smoothed(won: int, deals: int, prior: Fraction) -> Fraction:
    return (won + SMOOTHING * prior) / (deals + SMOOTHING)


def _odds(rate: Fraction) -> Fraction:
    return rate / (1 - rate)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def suggest(ctx: Context, deal_id: int | str) -> Suggestion:
    """An empirical win probability for an open deal, from the deals already closed.

    The base is the share of the closed deals that reached the deal's stage (were ever in it, from
    history, as in ``report conversion``) and were won, smoothed towards the win rate of all closed
    deals. Each factor (customer kind, assignee, value band) then refines it: the rate of the deals
    among those sharing the deal's value of the factor, smoothed towards the base, changes the odds
    by its ratio to the base odds (naive Bayes: the factors are taken as independent). Small groups
    barely move the estimate. None when no deal has closed yet.
    """
    from opp.core.analytics.reports import stages_reached

    wanted = parse_id(deal_id)
    with ctx.reading() as conn:
        deal = fetch_deals(conn, [wanted])[0]
        if deal.status != "open":
            raise Conflict(
                f"opportunity {deal.id} is {deal.status}: suggestions are for open deals",
                hint="reopen it with opp stage STAGE ID --reopen",
            )
        low, high, band_label = _value_band(int(deal.value.scaleb(minor_unit(deal.currency))), deal.currency)
        assignee_id = user_id(conn, deal.assignee) if deal.assignee is not None else None
        won = o.c.status == "won"
        same_kind = cu.c.kind == deal.customer.kind
        same_assignee = o.c.assignee_id.is_(None) if assignee_id is None else o.c.assignee_id == assignee_id
        in_band = and_(o.c.currency == deal.currency, o.c.value_minor >= low)
        if high is not None:
            in_band = and_(in_band, o.c.value_minor < high)
        closed = o.c.status.in_(["won", "lost"])
        overall = conn.execute(select(func.count(), _count(won)).where(closed)).one()
        reached = stages_reached()
        in_stage = select(reached.c.deal).where(reached.c.stage == deal.stage)
        counts = (
            conn.execute(
                select(
                    func.count().label("reached"),
                    _count(won).label("won"),
                    _count(same_kind).label("kind"),
                    _count(and_(same_kind, won)).label("kind_won"),
                    _count(same_assignee).label("assignee"),
                    _count(and_(same_assignee, won)).label("assignee_won"),
                    _count(in_band).label("band"),
                    _count(and_(in_band, won)).label("band_won"),
                )
                .select_from(o.join(cu, cu.c.id == o.c.customer_id))
                .where(closed, o.c.id.in_(in_stage))
            )
            .mappings()
            .one()
        )
    closed_count, closed_won = int(overall[0]), int(overall[1])
    if closed_count == 0:
        return Suggestion(deal.id, deal.title, deal.stage, deal.probability, None, 0, 0, 0, None, [])
    everyone = Fraction(closed_won + 1, closed_count + 2)
    base = _smoothed(int(counts["won"]), int(counts["reached"]), everyone)
    odds = _odds(base)
    factors = []
    for name, value, key in (
        ("customer_kind", deal.customer.kind, "kind"),
        ("assignee", deal.assignee, "assignee"),
        ("value_band", band_label, "band"),
    ):
        deals, deals_won = int(counts[key]), int(counts[f"{key}_won"])
        rate = _smoothed(deals_won, deals, base)
        odds *= _odds(rate) / _odds(base)
        factors.append(Factor(name, value, deals, deals_won, _fraction_rate(rate)))
    suggested = odds / (1 + odds) * 100
    return Suggestion(
        id=deal.id,
        title=deal.title,
        stage=deal.stage,
        probability=deal.probability,
        suggested=_half_up(suggested),
        closed=closed_count,
        reached=int(counts["reached"]),
        won=int(counts["won"]),
        stage_rate=_fraction_rate(base),
        factors=factors,
    )


def _half_up(exact: Fraction) -> int:
    """An exact fraction rounded half away from zero to a whole number (no float, no precision limit)."""
    magnitude = (2 * abs(exact.numerator) + exact.denominator) // (2 * exact.denominator)
    return magnitude if exact >= 0 else -magnitude


def _fraction_rate(rate: Fraction) -> Decimal:
    """A rate rounded half up to four decimals."""
    return Decimal(_half_up(rate * 10_000)).scaleb(-4)
