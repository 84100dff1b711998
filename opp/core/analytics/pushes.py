"""Slipping deals: how often each deal's expected close was moved to a later date, read from history.

A push is an ``updated`` event of ``expected_close`` whose new date is later than its old one (setting a
date where there was none, clearing it or moving it earlier is no push); ``slip_days`` adds the days
each push moved it. ``first_close`` is the first expected close ever recorded: the old side of the
deal's first change of it that had one, else the first date it was given, else the one it has now.
Every figure is one aggregate over the history of expected closes (GROUP BY deal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, and_, func, select

from opp.core.context import Context
from opp.core.dates import parse_date, start_of_day_utc
from opp.core.errors import Invalid
from opp.core.money.amounts import from_minor
from opp.core.pipeline.users import user_id
from opp.core.records import Record
from opp.store import schema
from opp.store.dialect import date_from_text, days_between_dates

o = schema.opportunities
h = schema.history
us = schema.users

STATUSES = ("open", "all")


@dataclass(frozen=True)
class Pushed(Record):
    id: int
    title: str
    assignee: str | None
    stage: str
    status: str
    value: Decimal
    currency: str
    pushes: int
    slip_days: int
    first_close: date | None
    expected_close: date | None


def pushes(
    ctx: Context,
    *,
    period: str | None = None,
    min: int | None = None,
    status: str | None = None,
    since: str | None = None,
    assignee: str | None = None,
    limit: int | None = None,
    where: Sequence[str] | None = None,
) -> list[Pushed]:
    """Deals pushed at least ``min`` times (1 unless given), most pushes first, then most days slipped,
    then by id. ``period`` keeps the deals whose close date (as in ``opp forecast``) falls in it now;
    ``status`` is ``open`` (default) or ``all``; ``since`` counts only pushes from the start of that
    day (UTC); ``assignee`` keeps that user's deals (as assigned now), ``where`` those whose custom
    fields hold (now)."""
    least = 1 if min is None else min
    if least < 1:
        raise Invalid(f"the least number of pushes must be 1 or more, not {least}")
    if limit is not None and limit < 1:
        raise Invalid(f"the limit must be a positive number, not {limit}")
    wanted_status = (status or "open").strip().lower()
    if wanted_status not in STATUSES:
        raise Invalid(f"unknown status {status!r}", hint="statuses are " + ", ".join(STATUSES))
    today = ctx.clock.today()
    with ctx.reading() as conn:
        return _pushes(conn, ctx, today, least, wanted_status, period, since, assignee, limit, where)


def _pushes(
    conn: Connection,
    ctx: Context,
    today: date,
    least: int,
    status: str,
    period: str | None,
    since: str | None,
    assignee: str | None,
    limit: int | None,
    where: Sequence[str] | None = None,
) -> list[Pushed]:
    dialect = conn.dialect.name
    pushed = and_(
        h.c.field == "expected_close",
        h.c.old.is_not(None),
        h.c.new.is_not(None),
        h.c.new > h.c.old,  # ISO dates compare as text
    )
    if since is not None:
        pushed = and_(pushed, h.c.at >= start_of_day_utc(parse_date(since, today)).replace(tzinfo=None))
    counted = (
        select(
            h.c.opportunity_id.label("deal_id"),
            func.count().label("pushes"),
            func.sum(days_between_dates(dialect, h.c.old, h.c.new)).label("slip_days"),
        )
        .where(pushed)
        .group_by(h.c.opportunity_id)
        .having(func.count() >= least)
        .subquery("pushed")
    )
    changes = h.alias("changes")

    def first_of(side: str) -> object:
        column = changes.c[side]
        return (
            select(column)
            .where(
                changes.c.opportunity_id == o.c.id,
                changes.c.field == "expected_close",
                column.is_not(None),
            )
            .order_by(changes.c.id)
            .limit(1)
            .scalar_subquery()
        )

    first_close = func.coalesce(first_of("old"), first_of("new"))
    query = (
        select(
            o.c.id,
            o.c.title,
            us.c.handle,
            o.c.stage,
            o.c.status,
            o.c.value_minor,
            o.c.currency,
            counted.c.pushes,
            counted.c.slip_days,
            date_from_text(dialect, first_close).label("first_close"),
            o.c.expected_close,
        )
        .select_from(counted.join(o, o.c.id == counted.c.deal_id).outerjoin(us, us.c.id == o.c.assignee_id))
        .order_by(counted.c.pushes.desc(), counted.c.slip_days.desc(), o.c.id)
    )
    if status == "open":
        query = query.where(o.c.status == "open")
    else:
        from opp.core.pipeline.scope import DELETED

        query = query.where(o.c.status != DELETED)
    if assignee is not None:
        query = query.where(o.c.assignee_id == user_id(conn, assignee))
    if period is not None:
        from opp.core.pipeline.scope import Scope

        window = Scope(status="all", period=period).resolve(conn, ctx).conditions(conn)
        query = query.where(*window)
    if where:
        from opp.core.fields import where_sql

        query = query.where(*where_sql(conn, where, today))
    if limit is not None:
        query = query.limit(limit)
    return [
        Pushed(
            id=row.id,
            title=row.title,
            assignee=row.handle,
            stage=row.stage,
            status=row.status,
            value=from_minor(row.value_minor, row.currency),
            currency=row.currency,
            pushes=row.pushes,
            slip_days=int(row.slip_days),
            first_close=_date(row.first_close) or row.expected_close,
            expected_close=row.expected_close,
        )
        for row in conn.execute(query)
    ]


def _date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
