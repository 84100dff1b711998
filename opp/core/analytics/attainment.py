"""``opp report attainment``: each user's quota for a period against what they won and have open in it.

Per user with a quota for exactly the period, or with deals in it (and a row with a null key for the
deals assigned to no one), and in total:

- ``quota``: the user's quota for the period, converted to the report's currency (null: none);
- ``won``: the value of the deals won with ``closed_at`` in the period (UTC);
- ``attainment`` = won / quota;
- ``gap`` = max(quota − won, 0) (null without a quota);
- ``open_value`` and ``open_forecast``: the value and forecast of the open deals expected to close in
  the period;
- ``coverage`` = open_value / gap;
- ``pace`` = attainment / (days of the period elapsed up to and including today / days in the
  period): 1 is on track; after the period's end the elapsed share is 1, so pace = attainment.

Ratios are computed exactly from the figures (each already rounded to the currency's minor unit) and
rounded once, half up, to 4 decimals (pace from won and quota, not from the rounded attainment);
a ratio is null where its divisor is 0 or missing, and pace is null before the period starts. The
total row adds up the rows' figures (quota: the quotas there are, null when there are none) and
computes its ratios from those sums.

Money is in one currency: ``--currency``, else the reporting currency, else the one currency of the
deals and quotas concerned (several is refused). Each deal converts as in ``opp forecast`` (won ones at
the rate on their close date, open ones on their expected close) and is rounded before summing; a
quota converts at the rate in force on the period's last day. The deals' sums are SQL aggregates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Date, DateTime, Select, and_, case, false, func, literal, null, or_, select
from sqlalchemy import cast as sql_cast

from opp.core.analytics.shares import rate
from opp.core.context import Context
from opp.core.dates import Period, day_end_exclusive, parse_period, start_of_day_utc
from opp.core.money.amounts import from_minor
from opp.core.pipeline.scope import Scope, scope_of
from opp.core.records import Record
from opp.store import schema

q = schema.quotas
us = schema.users


@dataclass(frozen=True)
class AttainmentRow(Record):
    """One user's figures (``key`` their handle; null for deals assigned to no one; ``total``)."""

    key: str | None
    quota: Decimal | None
    won: Decimal
    attainment: Decimal | None
    gap: Decimal | None
    open_value: Decimal
    open_forecast: Decimal
    coverage: Decimal | None
    pace: Decimal | None


@dataclass(frozen=True)
class Attainment(Record):
    period: str
    start: date
    end: date
    currency: str
    rows: list[AttainmentRow]
    total: AttainmentRow

    def as_dict(self) -> dict[str, Any]:
        return {
            **{field.name: getattr(self, field.name) for field in dataclasses.fields(self)},
            "rows": [row.as_dict() for row in self.rows],
            "total": self.total.as_dict(),
        }


def _ratio(part: int | Fraction, whole: int | Fraction | None) -> Decimal | None:
    """part / whole rounded half up to 4 decimals; None when there is no divisor (missing or 0)."""
    if whole is None or whole == 0:
        return None
    return rate(Fraction(part) / Fraction(whole))


def elapsed_share(period: Period, today: date) -> Fraction | None:
    """The share of ``period`` elapsed up to and including ``today``; None before it starts."""
    if today < period.start:
        return None
    days = (period.end - period.start).days + 1
    elapsed = min((today - period.start).days + 1, days)
    return Fraction(elapsed, days)


def _row(
    key: str | None,
    quota: int | None,
    won: int,
    open_value: int,
    open_forecast: int,
    *,
    currency: str,
    elapsed: Fraction | None,
) -> AttainmentRow:
    """A row from its figures in minor units of ``currency``."""
    gap = None if quota is None else max(quota - won, 0)
    pace = None
    if quota and elapsed is not None:
        pace = rate(Fraction(won, quota) / elapsed)

    def money(minor: int | None) -> Decimal | None:
        return None if minor is None else from_minor(minor, currency)

    return AttainmentRow(
        key=key,
        quota=money(quota),
        won=from_minor(won, currency),
        attainment=_ratio(won, quota),
        gap=money(gap),
        open_value=from_minor(open_value, currency),
        open_forecast=from_minor(open_forecast, currency),
        coverage=_ratio(open_value, gap),
        pace=pace,
    )


def attainment(
    ctx: Context, period: str, *, currency: str | None = None, scope: Scope | None = None
) -> Attainment:
    """Quota attainment per user for ``period`` (a month, quarter or year, or its relative name) and in
    total; see the module doc for every figure. ``scope`` narrows the deals (such as an assignee, whose
    quota alone is then shown); its status and close dates are the report's own."""
    from opp.core.analytics.forecast import reporting_currency
    from opp.core.money.rates import Conversion, conversion, converted_rows

    today = ctx.clock.today()
    chosen = parse_period(period, today)
    start = start_of_day_utc(chosen.start).replace(tzinfo=None)
    end = day_end_exclusive(chosen.end).replace(tzinfo=None)
    wanted = replace(
        scope_of(scope),
        status=("open", "won"),
        period=None,
        close_from=None,
        close_to=None,
        dated="close_date",
    )
    with ctx.reading() as conn:
        resolved = wanted.resolve(conn, ctx)
        selection = resolved.select(conn)
        src = selection.source
        won = and_(src.c.status == "won", src.c.closed_at >= start, src.c.closed_at < end)
        expected = and_(src.c.status == "open", src.c.expected_close.between(chosen.start, chosen.end))
        deals = selection.deals.where(or_(won, expected))
        quota_amounts = (
            select(
                q.c.id,
                q.c.user_id,
                q.c.amount_minor.label("value_minor"),
                literal(100).label("probability"),
                q.c.currency,
                sql_cast(null(), DateTime).label("closed_at"),
                literal(chosen.end, Date).label("expected_close"),
            )
            .where(q.c.period == chosen.label)
            .subquery("quota_amounts")
        )
        quotas = select(quota_amounts.c.id)
        if resolved.assignee_id is not None:
            quotas = quotas.where(quota_amounts.c.user_id == resolved.assignee_id)
        if resolved.unassigned:
            quotas = quotas.where(false())
        code = reporting_currency(
            conn,
            currency,
            [deals.with_only_columns(src.c.currency), quotas.with_only_columns(quota_amounts.c.currency)],
        )
        zero = literal(0)

        def per_assignee(measures: Conversion) -> Select[Any]:
            """The figures per assignee id: grouping by the deal's own column spares looking each
            deal's user up (a fifth of the report at a million deals); the handles come after."""
            return deals.with_only_columns(
                src.c.assignee_id.label("assignee_id"),
                func.coalesce(func.sum(case((won, measures.value), else_=zero)), 0).label("won"),
                func.coalesce(func.sum(case((expected, measures.value), else_=zero)), 0).label("open_value"),
                func.coalesce(func.sum(case((expected, measures.forecast), else_=zero)), 0).label(
                    "open_forecast"
                ),
            ).group_by(src.c.assignee_id)

        _, figures = converted_rows(conn, deals, code, per_assignee, today=selection.day or today, source=src)
        assignees = {row["assignee_id"] for row in figures} - {None}
        handle_of = dict(conn.execute(select(us.c.id, us.c.handle).where(us.c.id.in_(assignees))).all())
        by_key: dict[str | None, tuple[int, int, int]] = {
            handle_of.get(row["assignee_id"]): (
                int(row["won"]),
                int(row["open_value"]),
                int(row["open_forecast"]),
            )
            for row in figures
        }
        converted = conversion(conn, quotas, code, today=chosen.end, source=quota_amounts)
        quota_of: dict[str | None, int] = {
            row[0]: int(row[1])
            for row in conn.execute(
                quotas.with_only_columns(us.c.handle, converted.value).join(
                    us, us.c.id == quota_amounts.c.user_id
                )
            )
        }
    elapsed = elapsed_share(chosen, today)
    keys = sorted({*by_key, *quota_of}, key=lambda key: (key is None, key or ""))
    rows = [
        _row(key, quota_of.get(key), *by_key.get(key, (0, 0, 0)), currency=code, elapsed=elapsed)
        for key in keys
    ]
    sums = [sum(figures[i] for figures in by_key.values()) for i in range(3)]
    total = _row(
        "total",
        sum(quota_of.values()) if quota_of else None,
        sums[0],
        sums[1],
        sums[2],
        currency=code,
        elapsed=elapsed,
    )
    return Attainment(
        period=chosen.label, start=chosen.start, end=chosen.end, currency=code, rows=rows, total=total
    )


def attainment_report(
    ctx: Context,
    *,
    period: str,
    currency: str | None = None,
    assignee: str | None = None,
    where: Sequence[str] | None = None,
) -> Attainment:
    """``opp report attainment``: :func:`attainment` with the report's options (``where`` narrows the
    deals counted; each user's quota stays whole)."""
    return attainment(ctx, period, currency=currency, scope=Scope(assignee=assignee, where=where or ()))
