"""Whether the team's probabilities can be trusted: for closed deals, the probability each carried when
it last left each open stage, by probability band, against how often those deals were won.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, func, select
from sqlalchemy import cast as sql_cast

from opp.core.analytics.shares import share
from opp.core.context import Context
from opp.core.errors import Invalid
from opp.core.pipeline.scope import CLOSED, Scope
from opp.core.pipeline.stages import load_pipeline
from opp.core.records import Record
from opp.store import schema
from opp.store.dialect import json_text_field

o = schema.opportunities
h = schema.history

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


def calibration(
    ctx: Context,
    *,
    by: str | None = None,
    period: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
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
        raise Invalid(
            f"cannot split calibration by {by!r}", hint="split it by stage", reason="calibration-split"
        )
    with ctx.reading() as conn:
        pipeline = load_pipeline(conn)
        open_keys = [stage.key for stage in pipeline.open_stages]
        scope = Scope(status=CLOSED, period=period, assignee=assignee, dated="closed_at", where=where or ())
        closed = scope.resolve(conn, ctx).select(conn).deals
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
        gap = share(Fraction(won, count) - expected, 1) if count and expected is not None else None
        bands.append(
            CalibrationBand(
                key=stage,
                band=_band_label(*BANDS[index]),
                count=count,
                won=won,
                expected=share(Fraction(carried, 100), count),
                win_rate=share(won, count),
                gap=gap,
            )
        )
    return bands
