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
#: The name of the row of the deals without a value of the field the report is split by.
NOT_SET = "(not set)"


@dataclass(frozen=True)
class SupportRow(Record):
    #: The deal's or the customer's id, or the custom field's value (null: not set).
    key: int | str | None
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
    """Support cost beside won value, one row per won deal (``by`` deal, the default), per customer, or
    per value of a custom field (of the deal, or of its customer); ``where`` keeps the deals whose
    custom fields hold.

    Per value of a field, ``key`` and ``name`` are the value (null, and ``(not set)``, for the deals
    without one), in the field's order. A customer field counts, as ``by`` customer does, the tickets
    filed on those deals' customers alone as well, in the group of the customer's value."""
    from opp.core.analytics.forecast import reporting_measures
    from opp.core.fields import Defined, group_key, key_order

    group = (by or "deal").strip().lower()
    with ctx.reading() as conn:
        field: Defined | None = None
        won_key: Any
        won_joins: list[Any] = []
        if group not in GROUPS:
            grouping = group_key(conn, group, o)
            if grouping is None:
                raise Invalid(
                    f"cannot split the support report by {by!r}",
                    hint="use " + " or ".join(GROUPS) + ", or a custom field's name",
                )
            field, won_key, won_joins = grouping
        scope = Scope(status="won", period=period, dated="closed_at", where=where or ())
        deals = scope.resolve(conn, ctx).select(conn).deals
        converted = reporting_measures(conn, ctx, deals, currency)
        code = converted.currency
        per_hour = _hourly_cost(conn, hourly_cost)
        source: Any = o.join(cu, cu.c.id == o.c.customer_id)
        for rows_of_field, on in won_joins:
            source = source.outerjoin(rows_of_field, on)
        if field is not None:
            name = won_key  # a value names itself
        elif group == "deal":
            won_key, name = o.c.id, o.c.title
        else:
            won_key, name = o.c.customer_id, cu.c.name
        won_rows = conn.execute(
            deals.with_only_columns(
                won_key.label("key"), func.max(name).label("name"), func.sum(converted.value)
            )
            .select_from(source)
            .group_by(won_key)
            .order_by(won_key)  # by id; a field's few values are put in its own order below
        ).all()
        if not won_rows:
            return []
        won_ids = deals.with_only_columns(o.c.id)
        hours = (
            select(tt.c.ticket_id, func.sum(tt.c.hundredths).label("hundredths"))
            .group_by(tt.c.ticket_id)
            .subquery("logged")
        )
        figures = [func.count(), func.coalesce(func.sum(hours.c.hundredths), 0)]
        on_deals = tk.c.opportunity_id.in_(won_ids)
        alone = and_(
            tk.c.opportunity_id.is_(None), tk.c.customer_id.in_(deals.with_only_columns(o.c.customer_id))
        )
        if period is not None:
            window = parse_period(period, ctx.clock.today())
            alone = and_(
                alone,
                tk.c.opened_at >= start_of_day_utc(window.start).replace(tzinfo=None),
                tk.c.opened_at < day_end_exclusive(window.end).replace(tzinfo=None),
            )
        logged = tk.outerjoin(hours, hours.c.ticket_id == tk.c.id)
        if field is None:
            ticket_key = tk.c.opportunity_id if group == "deal" else tk.c.customer_id
            covered = on_deals if group == "deal" else on_deals | alone
            ticket_queries = [
                select(ticket_key, *figures).select_from(logged).where(covered).group_by(ticket_key)
            ]
        else:
            # The tickets on the won deals, in the group of their deal's value (or its customer's) ...
            on_deal_source: Any = logged.join(o, o.c.id == tk.c.opportunity_id)
            for rows_of_field, on in won_joins:
                on_deal_source = on_deal_source.outerjoin(rows_of_field, on)
            ticket_queries = [
                select(won_key, *figures).select_from(on_deal_source).where(on_deals).group_by(won_key)
            ]
            if field.record == "customer":  # ... and those filed on their customers alone, as by customer
                by_customer = group_key(conn, group, tk, alias="ticket_customer_field")
                assert by_customer is not None  # the same field as above
                _, customer_key, joins = by_customer
                alone_source: Any = logged
                for rows_of_field, on in joins:
                    alone_source = alone_source.outerjoin(rows_of_field, on)
                ticket_queries.append(
                    select(customer_key, *figures)
                    .select_from(alone_source)
                    .where(alone)
                    .group_by(customer_key)
                )
        tickets: dict[Any, tuple[int, int]] = {}
        for query in ticket_queries:
            for key_value, count, hundredths in conn.execute(query):
                before = tickets.get(key_value, (0, 0))
                tickets[key_value] = (before[0] + count, before[1] + int(hundredths))
    if field is not None:
        chosen = field
        won_rows = sorted(won_rows, key=lambda row: key_order(chosen, row[0]))
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
                name=label if label is not None else NOT_SET,
                currency=code,
                won_value=won,
                tickets=count,
                hours=(Decimal(hundredths) / 100).quantize(Decimal("0.01")),
                cost=cost,
                cost_ratio=ratio,
            )
        )
    return found
