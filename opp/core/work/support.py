"""``opp report support``: what support costs beside what was sold, per deal or per customer.

The rows are the won deals closed in the period (per deal), or their customers (per customer). Each
row carries ``won_value`` (the deals' values converted to the reporting currency as forecasts are: at
the rate in force on the close date, rounded once per deal), the ``tickets`` on those deals and the
``hours`` logged on them. Per customer, the tickets filed on the customer alone count too (those opened
in the period, when one is given). ``cost`` is hours × the hourly cost (``hourly_cost``, else the
``support_hourly_cost`` setting, in the reporting currency), rounded half up to the currency's minor
unit; null when neither is set. ``cost_ratio`` is cost / won_value rounded half up to 4 decimals (null
without a cost or a won value). Every sum runs in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, and_, func, select

from opp.core import settings
from opp.core.analytics.shares import rate
from opp.core.context import Context
from opp.core.dates import day_end_exclusive, parse_period, start_of_day_utc
from opp.core.errors import Invalid
from opp.core.money.amounts import from_minor, round_to_minor
from opp.core.pipeline.scope import Scope
from opp.core.records import Record
from opp.store import schema

o = schema.opportunities
cu = schema.customers
tk = schema.tickets
tt = schema.ticket_time

GROUPS = ("deal", "customer")
SETTING = "support_hourly_cost"


@dataclass(frozen=True)
class SupportRow(Record):
    key: int
    name: str
    currency: str
    won_value: Decimal
    tickets: int
    hours: Decimal
    cost: Decimal | None
    cost_ratio: Decimal | None


def _hourly_cost(conn: Connection, given: str | None) -> Decimal | None:
    """The cost of an hour: as given, else the team's setting, else None (no cost figures)."""
    text = given if given is not None else settings.value_of(conn, SETTING)
    return None if text is None else Decimal(settings.parse_hourly_cost(text))


def support(
    ctx: Context,
    *,
    by: str | None = None,
    period: str | None = None,
    currency: str | None = None,
    hourly_cost: str | None = None,
    where: Sequence[str] | None = None,
) -> list[SupportRow]:
    """Support cost beside won value, one row per won deal (``by`` deal, the default) or customer;
    ``where`` keeps the deals whose custom fields hold."""
    from opp.core.analytics.forecast import reporting_measures

    group = (by or "deal").strip().lower()
    if group not in GROUPS:
        raise Invalid(f"cannot split the support report by {by!r}", hint="use " + " or ".join(GROUPS))
    with ctx.reading() as conn:
        scope = Scope(status="won", period=period, dated="closed_at", where=where or ())
        deals = scope.resolve(conn, ctx).select(conn).deals
        converted = reporting_measures(conn, ctx, deals, currency)
        code = converted.currency
        per_hour = _hourly_cost(conn, hourly_cost)
        key = o.c.id if group == "deal" else o.c.customer_id
        name = o.c.title if group == "deal" else cu.c.name
        won_rows = conn.execute(
            deals.with_only_columns(key.label("key"), func.max(name).label("name"), func.sum(converted.value))
            .select_from(o.join(cu, cu.c.id == o.c.customer_id))
            .group_by(key)
            .order_by(key)
        ).all()
        if not won_rows:
            return []
        keys = [row[0] for row in won_rows]
        won_ids = deals.with_only_columns(o.c.id)
        ticket_key = tk.c.opportunity_id if group == "deal" else tk.c.customer_id
        on_deals = tk.c.opportunity_id.in_(won_ids)
        covered: Any = on_deals
        if group == "customer":
            alone = and_(tk.c.opportunity_id.is_(None), tk.c.customer_id.in_(keys))
            if period is not None:
                window = parse_period(period, ctx.clock.today())
                alone = and_(
                    alone,
                    tk.c.opened_at >= start_of_day_utc(window.start).replace(tzinfo=None),
                    tk.c.opened_at < day_end_exclusive(window.end).replace(tzinfo=None),
                )
            covered = on_deals | alone
        hours = (
            select(tt.c.ticket_id, func.sum(tt.c.hundredths).label("hundredths"))
            .group_by(tt.c.ticket_id)
            .subquery("logged")
        )
        ticket_rows = conn.execute(
            select(ticket_key, func.count(), func.coalesce(func.sum(hours.c.hundredths), 0))
            .select_from(tk.outerjoin(hours, hours.c.ticket_id == tk.c.id))
            .where(covered)
            .group_by(ticket_key)
        ).all()
    tickets = {row[0]: (row[1], int(row[2])) for row in ticket_rows}
    found = []
    for key_value, label, won_minor in won_rows:
        count, hundredths = tickets.get(key_value, (0, 0))
        won = from_minor(int(won_minor or 0), code)
        cost = None if per_hour is None else round_to_minor(per_hour * hundredths / 100, code)
        ratio = None
        if cost is not None and won > 0:
            ratio = rate(Fraction(cost) / Fraction(won))
        found.append(
            SupportRow(
                key=key_value,
                name=label,
                currency=code,
                won_value=won,
                tickets=count,
                hours=(Decimal(hundredths) / 100).quantize(Decimal("0.01")),
                cost=cost,
                cost_ratio=ratio,
            )
        )
    return found
