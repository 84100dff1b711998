"""What history says a deal's probability should be: an empirical win probability for an open deal from
the closed deals that reached its stage, refined by customer kind, assignee and value band (naive Bayes
with smoothing for small counts, in the spirit of Odoo's predictive lead scoring). It is only shown,
never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import and_, func, select

from opp.core.analytics.shares import count_where, half_up, rate
from opp.core.context import Context
from opp.core.errors import Conflict
from opp.core.money.amounts import minor_unit
from opp.core.pipeline.deals import fetch_deals
from opp.core.pipeline.scope import CLOSED, Scope
from opp.core.pipeline.users import user_id
from opp.core.records import Record
from opp.core.refs import parse_id
from opp.store import schema

o = schema.opportunities
cu = schema.customers

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


def _odds(chance: Fraction) -> Fraction:
    return chance / (1 - chance)


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
                hint="reopen it first",
                reason="reopen-first",
            )
        low, high, band_label = _value_band(int(deal.value.scaleb(minor_unit(deal.currency))), deal.currency)
        assignee_id = user_id(conn, deal.assignee) if deal.assignee is not None else None
        won = o.c.status == "won"
        same_kind = cu.c.kind == deal.customer.kind
        same_assignee = o.c.assignee_id.is_(None) if assignee_id is None else o.c.assignee_id == assignee_id
        in_band = and_(o.c.currency == deal.currency, o.c.value_minor >= low)
        if high is not None:
            in_band = and_(in_band, o.c.value_minor < high)
        closed = and_(*Scope(status=CLOSED).resolve(conn, ctx).conditions(conn))
        overall = conn.execute(select(func.count(), count_where(won)).where(closed)).one()
        reached = stages_reached()
        in_stage = select(reached.c.deal).where(reached.c.stage == deal.stage)
        counts = (
            conn.execute(
                select(
                    func.count().label("reached"),
                    count_where(won).label("won"),
                    count_where(same_kind).label("kind"),
                    count_where(and_(same_kind, won)).label("kind_won"),
                    count_where(same_assignee).label("assignee"),
                    count_where(and_(same_assignee, won)).label("assignee_won"),
                    count_where(in_band).label("band"),
                    count_where(and_(in_band, won)).label("band_won"),
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
        refined = _smoothed(deals_won, deals, base)
        odds *= _odds(refined) / _odds(base)
        factors.append(Factor(name, value, deals, deals_won, rate(refined)))
    suggested = odds / (1 + odds) * 100
    return Suggestion(
        id=deal.id,
        title=deal.title,
        stage=deal.stage,
        probability=deal.probability,
        suggested=half_up(suggested),
        closed=closed_count,
        reached=int(counts["reached"]),
        won=int(counts["won"]),
        stage_rate=rate(base),
        factors=factors,
    )
