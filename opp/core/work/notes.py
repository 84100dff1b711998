"""Typed notes on a deal: ``internal`` (the team's own), ``customer`` (what the customer said or was
told) and ``meeting`` (minutes of a meeting).

A note is a ``note`` event in the deal's history: its text is the event's ``note`` and its kind the
event's ``field``. Notes written before kinds existed have no field and read as ``internal``. A note
taken back with ``opp undo`` stays in history (with the ``undo`` event that withdrew it) but is no
longer listed. ``opp notes`` reads them from history, newest first, every filter in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select

from opp.core.context import Context
from opp.core.errors import Invalid
from opp.core.records import Event, Record
from opp.core.refs import aware, clean_text, parse_id
from opp.store import schema

h = schema.history
o = schema.opportunities
cm = schema.commands
dc = schema.deal_contacts

KINDS = ("internal", "customer", "meeting")
DEFAULT_KIND = "internal"
NOTE_LENGTH = 100_000


@dataclass(frozen=True)
class Note(Record):
    """A note as ``opp notes`` lists it; ``id`` is its history event's id."""

    id: int
    opportunity_id: int
    at: datetime
    actor: str
    kind: str
    text: str


def check_kind(kind: str | None) -> str:
    """A note kind as typed (any case); None is the default, ``internal``."""
    if kind is None:
        return DEFAULT_KIND
    lowered = kind.strip().lower()
    if lowered not in KINDS:
        raise Invalid(f"unknown note kind {kind!r}", hint="kinds are " + ", ".join(KINDS))
    return lowered


def add_note(ctx: Context, deal_id: int | str, text: str, *, kind: str | None = None) -> Event:
    """Append a note of ``kind`` (default internal) to a deal's history; the deal itself is unchanged."""
    from opp.core.pipeline.deals import lock_deal
    from opp.core.pipeline.history import EventFilter, query_events

    wanted = parse_id(deal_id)
    chosen = check_kind(kind)
    body = clean_text(text, what="note", max_length=NOTE_LENGTH, required=True)
    with ctx.unit_of_work("note") as uow:
        lock_deal(uow.conn, wanted)
        event_id = uow.record(wanted, "note", field=chosen, note=body)
        return query_events(uow.conn, EventFilter(event_id=event_id))[0]


def _kind_is(kind: str) -> ColumnElement[bool]:
    if kind == DEFAULT_KIND:
        return or_(h.c.field == kind, h.c.field.is_(None))
    return h.c.field == kind


def iter_notes(
    ctx: Context,
    deal_id: int | str | None = None,
    *,
    customer: str | None = None,
    kind: str | None = None,
    search: str | None = None,
    limit: int | None = None,
) -> Iterator[Note]:
    """Notes newest first: of one deal, or of a customer's deals (those it is the customer of and, for
    a person, those they are a contact of), of one kind, whose text contains ``search`` (any case, ``%``
    and ``_`` taken literally). Bad options raise at the first ``next``."""
    from opp.core.pipeline.customers import resolve_customer
    from opp.core.pipeline.deals import fetch_deals

    if limit is not None and limit < 1:
        raise Invalid(
            f"the limit must be a positive number, not {limit}",
            reason="limit-not-positive",
            details={"value": limit},
        )
    from opp.core.pipeline.scope import not_deleted

    withdrawn = select(cm.c.id).where(cm.c.undone_by.is_not(None))
    query = (
        select(h.c.id, h.c.opportunity_id, h.c.at, h.c.actor, h.c.field, h.c.note)
        .where(
            h.c.action == "note",
            or_(h.c.command_id.is_(None), h.c.command_id.not_in(withdrawn)),
            not_deleted(h.c.opportunity_id),
        )
        .order_by(h.c.id.desc())
    )
    if kind is not None:
        query = query.where(_kind_is(check_kind(kind)))
    if search:
        query = query.where(func.lower(h.c.note).contains(search.lower(), autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    with ctx.reading() as conn:
        if deal_id is not None:
            wanted = parse_id(deal_id)
            fetch_deals(conn, [wanted])
            query = query.where(h.c.opportunity_id == wanted)
        if customer is not None:
            found = resolve_customer(conn, customer)
            of_customer = select(o.c.id).where(o.c.customer_id == found.id)
            as_contact = select(dc.c.opportunity_id).where(dc.c.customer_id == found.id)
            query = query.where(or_(h.c.opportunity_id.in_(of_customer), h.c.opportunity_id.in_(as_contact)))
        for row in conn.execute(query).mappings():
            yield Note(
                id=row["id"],
                opportunity_id=row["opportunity_id"],
                at=aware(row["at"]),  # type: ignore[arg-type]
                actor=row["actor"],
                kind=row["field"] or DEFAULT_KIND,
                text=row["note"],
            )


def list_notes(
    ctx: Context,
    deal_id: int | str | None = None,
    *,
    customer: str | None = None,
    kind: str | None = None,
    search: str | None = None,
    limit: int | None = None,
) -> list[Note]:
    """:func:`iter_notes` as a list."""
    return list(iter_notes(ctx, deal_id, customer=customer, kind=kind, search=search, limit=limit))
