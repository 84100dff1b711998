"""The history of deals: every change as an event, oldest first (or newest first when reversed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from opp.core.context import Context
from opp.core.dates import parse_date, start_of_day_utc
from opp.core.errors import Invalid
from opp.core.records import Event
from opp.core.refs import aware, handle_key, parse_id
from opp.store import schema

h = schema.history
ACTIONS = (
    "created",
    "updated",
    "stage",
    "assign",
    "category",
    "note",
    "billable",
    "invoice",
    "import",
    "undo",
    "contact",
    "task",
    "ticket",
    "deleted",
)


@dataclass
class EventFilter:
    opportunity_id: int | None = None
    event_id: int | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    limit: int | None = None
    newest_first: bool = False


def event_value(action: str, text: str | None, field: str | None = None) -> str | dict[str, Any] | None:
    """A stored ``old``/``new`` as an event record holds it: the deal's fields of a ``created`` event
    (stored as a JSON object, money as text) as an object with money as ``Decimal``; a contact (field
    ``contact``: ``{"id", "name", "role"}``, see opp.core.work.contacts) as an object; others as they are."""
    if text is None or not text.startswith("{"):
        return text
    if field == "contact":
        contact: dict[str, Any] = json.loads(text)
        return contact
    if action != "created":
        return text
    fields: dict[str, Any] = json.loads(text)
    if isinstance(fields.get("value"), str):
        fields["value"] = Decimal(fields["value"])
    return fields


def _event(row: RowMapping) -> Event:
    return Event(
        id=row["id"],
        opportunity_id=row["opportunity_id"],
        at=aware(row["at"]),  # type: ignore[arg-type]
        actor=row["actor"],
        action=row["action"],
        field=row["field"],
        old=event_value(row["action"], row["old"], row["field"]),
        new=event_value(row["action"], row["new"], row["field"]),
        note=row["note"],
    )


def query_events(conn: Connection, where: EventFilter) -> list[Event]:
    query = select(h)
    if where.opportunity_id is not None:
        query = query.where(h.c.opportunity_id == where.opportunity_id)
    if where.event_id is not None:
        query = query.where(h.c.id == where.event_id)
    if where.action is not None:
        query = query.where(h.c.action == where.action)
    if where.actor is not None:
        query = query.where(h.c.actor == where.actor)
    if where.since is not None:
        query = query.where(h.c.at >= where.since.replace(tzinfo=None))
    query = query.order_by(h.c.id.desc() if where.newest_first else h.c.id)
    if where.limit is not None:
        query = query.limit(where.limit)
    return [_event(row) for row in conn.execute(query).mappings()]


def list_events(
    ctx: Context,
    deal_id: int | str | None = None,
    *,
    action: str | None = None,
    since: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[Event]:
    """Events oldest first (newest first if asked, so ``limit`` keeps the latest), of one deal or all;
    ``since`` counts from the start of that day (UTC)."""
    where = EventFilter(actor=handle_key(actor) if actor else None, limit=limit, newest_first=newest_first)
    if action is not None:
        where.action = action.strip().lower()
        if where.action not in ACTIONS:
            raise Invalid(f"unknown history action {action!r}", hint="actions are " + ", ".join(ACTIONS))
    if since is not None:
        where.since = start_of_day_utc(parse_date(since, ctx.clock.today()))
    if limit is not None and limit < 1:
        raise Invalid(
            f"the limit must be a positive number, not {limit}",
            reason="limit-not-positive",
            details={"value": limit},
        )
    with ctx.reading() as conn:
        if deal_id is not None:
            from opp.core.pipeline.deals import lock_deal

            where.opportunity_id = parse_id(deal_id)
            # An unknown deal is "not found", not "no events"; a deleted one keeps its history.
            lock_deal(conn, where.opportunity_id, deleted=True)
        return query_events(conn, where)
