"""Deals as they stood at an instant, rebuilt from history in SQL (``--as-of``).

History is the source of truth for time travel: a deal existed at an instant if its ``created`` event
is earlier, and each field then held the ``new`` side of the latest event for that field before the
instant, else the value in the ``created`` event's JSON snapshot of the initial state. The rebuilt
state is a subquery with the columns of the opportunities table, so the listing, forecast and pipeline
queries run over it unchanged (:func:`over`) instead of being written twice. Each field's text is read
in its column's type by opp.core.pipeline.codec, the module that writes it.

The state is rebuilt from whichever end of history is nearer the instant, as both give the same rows:

- **forward** (:func:`deals_as_of`), from the beginning: one aggregate over history finds, per deal and
  field, the latest event before the instant (a single ``GROUP BY``, not a replay of every event in
  Python); the description, which the snapshot does not hold, falls back to the ``old`` side of its
  first edit, else to the current text;
- **backward** (:func:`deals_as_of_backward`), from the present: a field a later event changed held
  that event's ``old`` side at the instant, any other field holds its current value. Its cost grows with
  the events after the instant, which for the usual question ("where were we at the end of last
  month?") is a small part of history.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    union,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql import visitors

from opp.core.dates import day_end_exclusive, parse_date
from opp.core.pipeline.codec import column_of, column_sql
from opp.store import schema
from opp.store.dialect import json_text_field

o = schema.opportunities
h = schema.history

#: The history fields that rebuild a deal, each also a key of the ``created`` snapshot (but description).
FIELDS = (
    "title",
    "description",
    "external_ref",
    "customer_id",
    "value",
    "currency",
    "probability",
    "stage",
    "status",
    "expected_close",
    "assignee",
    "closed_at",
    "lost_reason",
    "category",
)

#: What no figure reads of a deal's past (see ``descriptive`` of :func:`changed_as_of`).
DESCRIPTIVE = ("title", "description", "external_ref", "customer_id", "lost_reason")

E = TypeVar("E")

#: Numbers the temporary tables a connection makes.
_snapshots = itertools.count(1)


def as_of_instant(text: str, today: date) -> datetime:
    """The instant ``--as-of DATE`` stands for: the end of that day (UTC), as an exclusive bound.

    Returned naive, as instants are stored: the state includes every event before the next midnight.
    """
    return day_end_exclusive(parse_date(text, today)).replace(tzinfo=None)


def _chosen_events(
    instant: datetime,
    *,
    before: bool,
    only: Select[Any] | None = None,
    first_test: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """Per deal and field of :data:`FIELDS`, the event on one side of ``instant`` that gives the field's
    value then: ``(deal_id, field, event_id)``, the latest event before it or the earliest after it.
    With ``only`` (a query of deal ids), of those deals alone; ``first_test``, a cheap test of an
    event's row that every deal of ``only`` passes, is checked before looking the deal up in ``only``."""
    side = h.c.at < instant if before else h.c.at >= instant
    # The side read is the smaller part of history (see deal_source): grouping by ``deal_id + 0`` keeps
    # SQLite from walking the whole index on opportunity_id for its order instead of the range on ``at``.
    deal_id = sql_cast(h.c.opportunity_id + 0, Integer).label("deal_id")
    chosen_query = select(
        deal_id,
        h.c.field.label("field"),
        (func.max(h.c.id) if before else func.min(h.c.id)).label("event_id"),
    ).where(side, h.c.field.in_(FIELDS))
    if first_test is not None:
        chosen_query = chosen_query.where(first_test)
    if only is not None:
        # Those deals' events on that side, read from the index on field and instant (``+ 0``): a few
        # deals' events would otherwise be looked up one row at a time, each deal's whole history.
        chosen_query = chosen_query.where((h.c.opportunity_id + 0).in_(only))
    if not before and only is None:
        # Events after the instant include the whole life of every deal created since, which the
        # state at the instant does not hold. Those deals are left out by their ``created`` events
        # since (written at the deal's created_at), a few found by the index on field and instant,
        # rather than by looking up every event's deal (a third of the time at a million deals). The
        # state's own condition on created_at (see changed_as_of) still decides which deals it holds,
        # so a few deals chosen (``only``) need neither.
        born = h.alias("born")
        created_since = select(born.c.opportunity_id).where(
            born.c.field.is_(None), born.c.at >= instant, born.c.action == "created"
        )
        chosen_query = chosen_query.where((h.c.opportunity_id + 0).not_in(created_since))
    return chosen_query.group_by(deal_id, h.c.field)


def _field_events(
    instant: datetime,
    *,
    before: bool,
    only: Select[Any] | None = None,
    chosen_events: FromClause | None = None,
    fields: Sequence[str] = FIELDS,
) -> Subquery:
    """Per deal, for each field (of ``fields``) an event on one side of ``instant`` changed, the value
    it gives.

    Before the instant: the ``new`` side of the field's latest event. After it: the ``old`` side of its
    earliest event. Each field's ``{field}_mark`` holds that text behind a ``1`` (``0`` for a null
    text), or null where no such event is: read it with :func:`_changed`. One aggregate per field, not
    one for whether it is set and another for its text, is a third less work over many events.
    ``changed_at`` and ``stage_at`` are the instants of the latest chosen event and of the chosen stage
    event. With ``only`` (a query of deal ids), the events of those deals alone; with
    ``chosen_events`` (from :func:`keep_events_since`), those events, already chosen.
    """
    chosen = (
        _chosen_events(instant, before=before, only=only).subquery("chosen")
        if chosen_events is None
        else chosen_events
    )
    event = h.alias("event")
    text = event.c.new if before else event.c.old
    mark = func.coalesce(literal("1", String).concat(text), literal("0", String))
    pivot = [func.max(case((chosen.c.field == name, mark))).label(f"{name}_mark") for name in fields]
    return (
        select(
            chosen.c.deal_id,
            *pivot,
            func.max(event.c.at).label("changed_at"),
            func.max(case((chosen.c.field == "stage", event.c.at))).label("stage_at"),
        )
        .select_from(chosen.join(event, event.c.id == chosen.c.event_id))
        .group_by(chosen.c.deal_id)
        .subquery("changes")
    )


def _changed(changes: FromClause, name: str) -> tuple[ColumnElement[bool], ColumnElement[Any]]:
    """Whether an event chosen by :func:`_field_events` changed field ``name``, and the text it gives."""
    mark = changes.c[f"{name}_mark"]
    return mark.is_not(None), case((mark != "0", func.substr(mark, 2)))


def deals_as_of(dialect_name: str, instant: datetime) -> Subquery:
    """One row per deal that existed before ``instant`` (naive UTC), with the opportunities table's
    columns holding the values they had then, rebuilt forward from each deal's ``created`` event."""
    changes = _field_events(instant, before=True)
    created = h.alias("created")

    def snapshot(key: str) -> ColumnElement[Any]:
        return json_text_field(dialect_name, created.c.new, key)

    def field(name: str, initial: ColumnElement[Any] | None = None) -> ColumnElement[Any]:
        """The latest ``new`` of this field before the instant, else its initial value."""
        return case(_changed(changes, name), else_=snapshot(name) if initial is None else initial)

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
    values = {
        column_of(name): column_sql(
            dialect_name, name, field(name, initial_description if name == "description" else None)
        )
        for name in FIELDS
    }
    # A created event written before its snapshot held the customer (or a customer never changed):
    # the deal's customer today.
    values["customer_id"] = func.coalesce(values["customer_id"], o.c.customer_id)
    return _state(
        values,
        updated_at=func.coalesce(changes.c.changed_at, created.c.at),
        stage_changed_at=case(
            (_changed(changes, "stage")[0], changes.c.stage_at),
            else_=func.coalesce(column_sql(dialect_name, "closed_at", snapshot("closed_at")), created.c.at),
        ),
        source=o.join(
            created,
            # A deal's created event is at its created_at: selecting deals by created_at lets the
            # database walk the deals and fetch each one's event, not every event before the instant.
            and_(
                created.c.opportunity_id == o.c.id,
                created.c.action == "created",
                o.c.created_at < instant,
            ),
        ).outerjoin(changes, changes.c.deal_id == o.c.id),
    )


def deals_as_of_backward(dialect_name: str, instant: datetime) -> Subquery:
    """The same rows as :func:`deals_as_of`, rebuilt backward from the deals' current state: a field
    an event after ``instant`` changed held that event's ``old`` side, any other its current value."""
    return with_unchanged(changed_as_of(dialect_name, instant), instant)


def changed_as_of(
    dialect_name: str,
    instant: datetime,
    only: Select[Any] | None = None,
    *,
    times: bool = True,
    events: FromClause | None = None,
    descriptive: bool = True,
) -> Subquery:
    """The deals that existed before ``instant`` and were changed after it, as they stood then (of the
    deals ``only`` selects the ids of, when given; from ``events`` of :func:`keep_events_since`, when
    given). Without ``times``, ``updated_at`` and ``stage_changed_at`` are left null, which spares
    reading each deal's earlier events for them. Without ``descriptive``, so are the fields of
    :data:`DESCRIPTIVE` (the title, the customer, ...), which no figure reads: that spares
    rebuilding them and looking each deal's customer up."""
    fields = FIELDS if descriptive else tuple(name for name in FIELDS if name not in DESCRIPTIVE)
    changes = _field_events(instant, before=False, only=only, chosen_events=events, fields=fields)

    def then(name: str) -> ColumnElement[Any]:
        """The ``old`` side of this field's earliest event after the instant, else its value now."""
        was_changed, text = _changed(changes, name)
        return case((was_changed, column_sql(dialect_name, name, text)), else_=o.c[column_of(name)])

    values = {column_of(name): then(name) for name in fields}
    for name in DESCRIPTIVE if not descriptive else ():
        values[column_of(name)] = sql_cast(null(), o.c[column_of(name)].type)
    earlier = h.alias("earlier")

    def last_before(*where: ColumnElement[bool]) -> ColumnElement[Any]:
        """The instant of this deal's latest event before ``instant`` that matches ``where``."""
        return (
            select(func.max(earlier.c.at))
            .where(earlier.c.opportunity_id == o.c.id, earlier.c.at < instant, *where)
            .scalar_subquery()
        )

    # ``field || ''``: a condition no index serves, so that SQLite looks the deal's own events up by
    # the index on (opportunity_id, id). On the field itself it took the index on (field, at) and read
    # every stage event before the instant once per changed deal (over an hour at a million deals).
    by_deal_only = earlier.c.field.op("||")(literal(""))

    if not times:
        return _state(
            values,
            updated_at=sql_cast(null(), o.c.updated_at.type),
            stage_changed_at=sql_cast(null(), o.c.stage_changed_at.type),
            source=o.join(changes, changes.c.deal_id == o.c.id),
            where=o.c.created_at < instant,
            customer_then=descriptive,
        )
    return _state(
        values,
        updated_at=func.coalesce(last_before(earlier.c.field.in_(FIELDS)), o.c.created_at),
        stage_changed_at=case(
            (
                _changed(changes, "stage")[0],
                func.coalesce(last_before(by_deal_only == "stage"), values["closed_at"], o.c.created_at),
            ),
            else_=o.c.stage_changed_at,
        ),
        source=o.join(changes, changes.c.deal_id == o.c.id),
        where=o.c.created_at < instant,
    )


def with_unchanged(changed: FromClause, instant: datetime, only: Select[Any] | None = None) -> Subquery:
    """``changed`` (deals as they stood at ``instant``), with every other deal that existed before
    ``instant`` as it is now (of the deals ``only`` selects the ids of, when given)."""
    unchanged = select(*o.columns).where(o.c.created_at < instant, o.c.id.not_in(select(changed.c.id)))
    if only is not None:
        unchanged = unchanged.where(o.c.id.in_(only))
    return union_all(unchanged, select(*(changed.c[c.name] for c in o.columns))).subquery("deals_as_of")


def _state(
    values: dict[str, ColumnElement[Any]],
    *,
    updated_at: ColumnElement[Any],
    stage_changed_at: ColumnElement[Any],
    source: FromClause,
    where: ColumnElement[bool] | None = None,
    customer_then: bool = True,
) -> Subquery:
    """The rebuilt deals as a subquery with exactly the opportunities table's columns.

    A customer of then that is gone (merged into another by ``opp customer merge``) reads as the
    deal's customer today, the one that took it over, so the deal is still listed (unless
    ``customer_then`` is False: the customer is as ``values`` gives it)."""
    rebuilt = {**values, "updated_at": updated_at, "stage_changed_at": stage_changed_at}
    if customer_then:
        then = values["customer_id"]
        gone = schema.customers.alias("customer_then")
        rebuilt["customer_id"] = case((exists().where(gone.c.id == then), then), else_=o.c.customer_id)
    query = select(*(rebuilt.get(c.name, c).label(c.name) for c in o.columns)).select_from(source)
    if where is not None:
        query = query.where(where)
    return query.subquery("deals_as_of")


def events_after(conn: Connection, instant: datetime) -> int | None:
    """How many history events lie at or after ``instant``, or None if they are at least half of
    history (so rebuilding forward reads less). Counts at most half of history, through the index
    on ``at``."""
    # Two scalar subqueries, as SQLite answers a lone min() or max() from the end of the index.
    low, high = conn.execute(
        select(select(func.min(h.c.id)).scalar_subquery(), select(func.max(h.c.id)).scalar_subquery())
    ).one()
    if low is None:
        return 0
    half = (high - low + 1) // 2 + 1
    later = select(h.c.id).where(h.c.at >= instant).limit(half).subquery()
    count = conn.execute(select(func.count()).select_from(later)).scalar_one()
    return count if count < half else None


def deal_source(conn: Connection, instant: datetime | None, *, times: bool = True) -> FromClause:
    """The opportunities table, or the deals as they stood at ``instant`` (naive UTC) if one is given.

    The past state is rebuilt once into a temporary table of this connection, because a command runs
    several queries over it (the currencies present, missing rates, the figures): rebuilding it from
    history for each would multiply the cost of the one expensive part. Rebuilding backward, only the
    deals changed since the instant are kept there; without ``times``, their ``updated_at`` and
    ``stage_changed_at`` are not rebuilt (see :func:`changed_as_of`), for questions that read neither.
    """
    if instant is None:
        return o
    later = events_after(conn, instant)
    if later == 0:
        return o  # nothing has changed since: the current state is the state then
    if later is None:
        return materialize(conn, deals_as_of(conn.dialect.name, instant))
    # Only the deals changed since are rebuilt and kept; the others are read as they are.
    changed = changed_as_of(conn.dialect.name, instant, times=times)
    return with_unchanged(materialize(conn, changed), instant)


def deals_among(
    conn: Connection,
    instant: datetime,
    only: Select[Any],
    *,
    times: bool = True,
    events: FromClause | None = None,
    descriptive: bool = True,
) -> Subquery:
    """The deals whose ids ``only`` selects, as they stood at ``instant`` (naive UTC): those of
    :func:`deal_source`, for a question about a few deals of many (``times`` and ``descriptive``: see
    :func:`changed_as_of`).

    Rebuilt backward from the present whatever the instant, so the work is those deals' events since
    the instant (and a look-up of each deal), not every deal's; the changed ones are kept in a
    temporary table, as :func:`deal_source` does. ``events``, those deals' events since the instant
    already read by :func:`keep_events_since`, spares reading them again.
    """
    if conn.execute(select(h.c.id).where(h.c.at >= instant).limit(1)).first() is None:
        # Nothing has changed since (an instant still to come: the end of today): the deals as they are.
        return select(*o.columns).where(o.c.created_at < instant, o.c.id.in_(only)).subquery("deals_as_of")
    changed = materialize(
        conn,
        changed_as_of(conn.dialect.name, instant, only, times=times, events=events, descriptive=descriptive),
    )
    return with_unchanged(changed, instant, only)


def _temporary_table(conn: Connection, prefix: str, *columns: Column[Any]) -> Table:
    """A new temporary table of this connection (dropped at the end of the transaction on PostgreSQL).

    The PostgreSQL option is given on PostgreSQL alone: naming it loads that dialect's modules, about
    20 ms of every SQLite command that keeps a table (``--as-of``, the waterfall, the review)."""
    options: dict[str, Any] = {"postgresql_on_commit": "DROP"} if conn.dialect.name == "postgresql" else {}
    table = Table(f"{prefix}_{next(_snapshots)}", MetaData(), *columns, prefixes=["TEMPORARY"], **options)
    table.create(conn)
    return table


def keep_ids(conn: Connection, *parts: Select[Any]) -> Table:
    """The ids the ``parts`` select (each id once, however many select it), copied into a new
    temporary table keyed by them.

    On SQLite the parts' ids go in by increasing id, a repeated one ignored: the table's own key
    drops the repeats, and appending in order to its tree is cheaper than sorting the ids once to drop
    them and inserting them in the parts' order (at a million deals, 0.04 against 0.06 s for a
    quarter's 92,000)."""
    table = _temporary_table(conn, "opp_ids", Column("id", Integer, primary_key=True))
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table).from_select(["id"], union(*parts)))
        return table
    every = union_all(*parts).subquery("every")
    (id_column,) = every.c
    ordered = select(id_column).order_by(id_column)
    conn.execute(insert(table).prefix_with("OR IGNORE").from_select(["id"], ordered))
    return table


def keep_events_since(
    conn: Connection, instant: datetime, only: Select[Any], first_test: ColumnElement[bool] | None = None
) -> Table:
    """The events that rebuild the deals ``only`` selects as they stood at ``instant`` (naive UTC),
    per deal and field the earliest at or after it, copied into a new temporary table of
    ``(deal_id, field, event_id)``. ``first_test`` (on history's columns), a test every deal of
    ``only`` passes, spares the look-up in ``only`` of the events that fail it.

    For a caller that reads the events since an instant once both to learn which deals changed (its
    ``deal_id``s) and to rebuild them (``deals_among(..., events=)``): reading them is what costs."""
    table = _temporary_table(
        conn,
        "opp_events",
        Column("deal_id", Integer, nullable=False),
        Column("field", h.c.field.type),
        Column("event_id", Integer, nullable=False),
    )
    chosen = _chosen_events(instant, before=False, only=only, first_test=first_test)
    conn.execute(insert(table).from_select(["deal_id", "field", "event_id"], chosen))
    return table


def materialize(conn: Connection, state: Subquery) -> Table:
    """``state`` (with the opportunities table's columns) copied into a new temporary table."""
    table = _temporary_table(
        conn,
        "opp_as_of",
        *(Column(column.name, column.type, primary_key=column.primary_key) for column in o.columns),
    )
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
