"""Quotas: what each user is expected to win in a period (a month, a quarter or a year).

One quota per user and period, kept under the period's canonical name (``2026-11``, ``2026Q4``,
``2026``), whatever form it was given in (``this-quarter`` is stored as the quarter it names). The
amount is money in its own currency (``--currency``, else the configured default currency), stored as
minor units; attainment converts it as forecasts convert deals (see :mod:`opp.core.analytics.attainment`).

Quotas are targets, not deals: setting or removing one writes no deal history, so ``opp undo`` (which
takes back changes to deals) does not cover them. Setting a quota again replaces it, and the
record printed by ``quota remove`` holds everything needed to set it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from opp.core import settings
from opp.core.context import Context
from opp.core.dates import parse_period
from opp.core.errors import NotFound
from opp.core.money.amounts import from_minor, normalize_currency, parse_minor
from opp.core.pipeline.users import user_id
from opp.core.records import Record
from opp.core.refs import handle_key
from opp.store import schema

q = schema.quotas
us = schema.users


@dataclass(frozen=True)
class Quota(Record):
    user: str
    period: str
    amount: Decimal
    currency: str


def _quota(row: RowMapping) -> Quota:
    return Quota(
        user=row["handle"],
        period=row["period"],
        amount=from_minor(row["amount_minor"], row["currency"]),
        currency=row["currency"],
    )


def _read(conn: Connection, user: int, period: str) -> RowMapping | None:
    query = (
        select(us.c.handle, q.c.id, q.c.period, q.c.amount_minor, q.c.currency)
        .join(us, us.c.id == q.c.user_id)
        .where(q.c.user_id == user, q.c.period == period)
    )
    return conn.execute(query).mappings().first()


def set_quota(ctx: Context, handle: str, period: str, amount: str, *, currency: str | None = None) -> Quota:
    """Set (or replace) the quota of the user ``handle`` for ``period``; the amount is 0 or more."""
    label = parse_period(period, ctx.clock.today()).label
    with ctx.unit_of_work("quota set") as uow:
        code = normalize_currency(currency) if currency else settings.default_currency(uow.conn)
        minor = parse_minor(amount, code)
        user = user_id(uow.conn, handle)
        assert user is not None
        found = _read(uow.conn, user, label)
        if found is None:
            uow.conn.execute(
                insert(q).values(
                    user_id=user,
                    period=label,
                    amount_minor=minor,
                    currency=code,
                    created_at=uow.at,
                    updated_at=uow.at,
                )
            )
        else:
            uow.conn.execute(
                update(q)
                .where(q.c.id == found["id"])
                .values(amount_minor=minor, currency=code, updated_at=uow.at)
            )
        row = _read(uow.conn, user, label)
        assert row is not None
        return _quota(row)


def list_quotas(ctx: Context, *, user: str | None = None, period: str | None = None) -> list[Quota]:
    """The quotas, by period then user; only ``user``'s, or only those for exactly ``period``."""
    query = (
        select(us.c.handle, q.c.period, q.c.amount_minor, q.c.currency)
        .join(us, us.c.id == q.c.user_id)
        .order_by(q.c.period, us.c.handle)
    )
    with ctx.reading() as conn:
        if user is not None:
            query = query.where(q.c.user_id == user_id(conn, user))
        if period is not None:
            query = query.where(q.c.period == parse_period(period, ctx.clock.today()).label)
        return [_quota(row) for row in conn.execute(query).mappings()]


def remove_quota(ctx: Context, handle: str, period: str) -> Quota:
    """Remove the quota of ``handle`` for ``period``; NotFound when there is none."""
    label = parse_period(period, ctx.clock.today()).label
    with ctx.unit_of_work("quota remove") as uow:
        user = user_id(uow.conn, handle)
        assert user is not None
        found = _read(uow.conn, user, label)
        if found is None:
            raise NotFound(
                f"{handle_key(handle)} has no quota for {label}",
                hint="see the quotas there are",
                reason="no-quota",
            )
        uow.conn.execute(delete(q).where(q.c.id == found["id"]))
        return _quota(found)
