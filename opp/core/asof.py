"""Deals as they stood at an instant, rebuilt from history in SQL (``--as-of``).

History is the source of truth for time travel: a deal existed at an instant if its ``created`` event
is earlier, and each field then held the ``new`` side of the latest event for that field before the
instant, else the value in the ``created`` event's JSON snapshot of the initial state. The rebuilt
state is a subquery with the columns of the opportunities table, so the listing, forecast and pipeline
queries run over it unchanged (:func:`over`) instead of being written twice.

One aggregate over history finds, per deal and field, the latest event before the instant (a single
``GROUP BY``, not a replay of every event in Python); the description, which the snapshot does not
hold, falls back to the ``old`` side of its first edit, else to the current text.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    MetaData,
    Subquery,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql import visitors

from opp.core.dates import day_end_exclusive, parse_date
from opp.store import schema
from opp.store.dialect import date_from_text, instant_from_text, json_text_field

o = schema.opportunities
h = schema.history
us = schema.users

#: The history fields that rebuild a deal, each also a key of the ``created`` snapshot (but description).
FIELDS = (
    "title",
    "description",
    "external_ref",
    "value",
    "currency",
    "probability",
    "stage",
    "status",
    "expected_close",
    "assignee",
    "closed_at",
    "lost_reason",
)

E = TypeVar("E")


def as_of_instant(text: str, today: date) -> datetime:
    """The instant ``--as-of DATE`` stands for: the end of that day (UTC), as an exclusive bound.

    Returned naive, as instants are stored: the state includes every event before the next midnight.
    """
    return day_end_exclusive(parse_date(text, today)).replace(tzinfo=None)


def deals_as_of(dialect_name: str, instant: datetime) -> Subquery:
    """One row per deal that existed before ``instant`` (naive UTC), with the opportunities table's
    columns holding the values they had then."""
    latest = (
        select(
            h.c.opportunity_id.label("deal_id"),
            h.c.field.label("field"),
            func.max(h.c.id).label("event_id"),
        )
        .where(h.c.at < instant, h.c.field.in_(FIELDS))
        .group_by(h.c.opportunity_id, h.c.field)
        .subquery("latest")
    )
    event = h.alias("event")
    pivot: list[ColumnElement[Any]] = []
    for name in FIELDS:
        pivot.append(func.max(case((latest.c.field == name, 1), else_=0)).label(f"{name}_set"))
        pivot.append(func.max(case((latest.c.field == name, event.c.new))).label(f"{name}_new"))
    changes = (
        select(
            latest.c.deal_id,
            *pivot,
            func.max(event.c.at).label("changed_at"),
            func.max(case((latest.c.field == "stage", event.c.at))).label("stage_at"),
        )
        .select_from(latest.join(event, event.c.id == latest.c.event_id))
        .group_by(latest.c.deal_id)
        .subquery("changes")
    )
    created = h.alias("created")

    def snapshot(key: str) -> ColumnElement[Any]:
        return json_text_field(dialect_name, created.c.new, key)

    def field(name: str, initial: ColumnElement[Any] | None = None) -> ColumnElement[Any]:
        """The latest ``new`` of this field before the instant, else its initial value."""
        return case(
            (changes.c[f"{name}_set"] == 1, changes.c[f"{name}_new"]),
            else_=snapshot(name) if initial is None else initial,
        )

    edits = h.alias("edits")
    first_edit = (
        select(edits.c.old)
        .where(edits.c.opportunity_id == o.c.id, edits.c.field == "description")
        .order_by(edits.c.id)
        .limit(1)
        .scalar_subquery()
    )
    edited = exists().where(edits.c.opportunity_id == o.c.id, edits.c.field == "description")
    initial_description = case((edited, first_edit), else_=o.c.description)
    closed_at = instant_from_text(dialect_name, field("closed_at"))
    handle = field("assignee")
    return (
        select(
            o.c.id,
            field("title").label("title"),
            field("description", initial_description).label("description"),
            o.c.customer_id,
            # History writes values with exactly the currency's decimals: without the point, minor units.
            sql_cast(func.replace(field("value"), ".", ""), BigInteger).label("value_minor"),
            field("currency").label("currency"),
            sql_cast(field("probability"), Integer).label("probability"),
            field("stage").label("stage"),
            field("status").label("status"),
            date_from_text(dialect_name, field("expected_close")).label("expected_close"),
            field("external_ref").label("external_ref"),
            select(us.c.id).where(us.c.handle == handle).scalar_subquery().label("assignee_id"),
            field("lost_reason").label("lost_reason"),
            o.c.created_at,
            func.coalesce(changes.c.changed_at, created.c.at).label("updated_at"),
            closed_at.label("closed_at"),
            case(
                (changes.c.stage_set == 1, changes.c.stage_at),
                else_=func.coalesce(instant_from_text(dialect_name, snapshot("closed_at")), created.c.at),
            ).label("stage_changed_at"),
            o.c.version,
        )
        .select_from(
            o.join(
                created,
                # A deal's created event is at its created_at: selecting deals by created_at lets the
                # database walk the deals and fetch each one's event, not every event before the instant.
                and_(
                    created.c.opportunity_id == o.c.id,
                    created.c.action == "created",
                    o.c.created_at < instant,
                ),
            ).outerjoin(changes, changes.c.deal_id == o.c.id)
        )
        .subquery("deals_as_of")
    )


_snapshots = itertools.count(1)


def deal_source(conn: Connection, instant: datetime | None) -> FromClause:
    """The opportunities table, or the deals as they stood at ``instant`` (naive UTC) if one is given.

    The past state is rebuilt once into a temporary table of this connection, because a command runs
    several queries over it (the currencies present, missing rates, the figures): rebuilding it from
    history for each would multiply the cost of the one expensive part.
    """
    if instant is None:
        return o
    return materialize(conn, deals_as_of(conn.dialect.name, instant))


def materialize(conn: Connection, state: Subquery) -> Table:
    """``state`` (with the opportunities table's columns) copied into a new temporary table."""
    table = Table(
        f"opp_as_of_{next(_snapshots)}",
        MetaData(),
        *(Column(column.name, column.type) for column in o.columns),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    table.create(conn)
    names = [column.name for column in o.columns]
    conn.execute(insert(table).from_select(names, select(*(state.c[name] for name in names))))
    return table


def over(element: E, source: FromClause) -> E:
    """``element`` (a query or expression written against the opportunities table) over ``source``.

    Every reference to the table or its columns is replaced by ``source`` and its columns of the same
    names, so that one query serves both the current state and the state at an instant.
    """
    if source is o:
        return element

    def replace(found: Any) -> Any:
        if found is o:
            return source
        if isinstance(found, Column) and found.table is o:
            return source.c[found.name]
        return None

    return cast(E, visitors.replacement_traverse(element, {}, replace))  # type: ignore[call-overload]
