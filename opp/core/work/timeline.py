"""``opp timeline``: one story, oldest first, of everything that happened to a deal or a customer.

A deal's history already holds it all: the deal's own events, notes, tasks added, done and changed,
tickets opened, logged and solved, invoices (each an event of the deal). A customer's timeline tells
the history of every deal it is the customer of, and of the deals its people are contacts of, plus its
tickets on no deal, which have no history of their own: they are told from their rows (opened, time
logged, solved when solved now). The events are read in one ordered SQL query (``UNION ALL``), through
the index on history by deal, and written as they come.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from opp.core.context import Context
from opp.core.dates import parse_date, start_of_day_utc
from opp.core.money.amounts import format_money
from opp.core.pipeline.codec import FIELDS
from opp.core.records import Record
from opp.core.refs import aware, parse_id
from opp.core.work.codec import COMPANIONS, TASK_ADDED, TICKET_HOURS, TICKET_OPENED
from opp.core.work.tickets import hours_of
from opp.store import schema

h = schema.history
o = schema.opportunities
tk = schema.tickets
tt = schema.ticket_time

#: The types of entries, by the history action they come from (any other action is the deal's own).
TYPES = {"note": "note", "task": "task", "ticket": "ticket", "invoice": "invoice", "billable": "billing"}


@dataclass(frozen=True)
class TimelineEntry(Record):
    at: datetime
    type: str
    opportunity_id: int | None
    actor: str
    text: str
    task_id: int | None
    ticket_id: int | None


def _history_part(deals: Any, since: datetime | None) -> Select[Any]:
    query = select(
        h.c.at,
        cast(literal(0), Integer).label("rank"),
        h.c.id.label("seq"),
        h.c.opportunity_id,
        h.c.actor,
        h.c.action,
        h.c.field,
        h.c.old,
        h.c.new,
        h.c.note,
        h.c.task_id,
        h.c.ticket_id,
    ).where(h.c.opportunity_id.in_(deals), or_(h.c.field.is_(None), h.c.field.not_in(COMPANIONS)))
    return query if since is None else query.where(h.c.at >= since)


def _lone_ticket_parts(customer_id: int, since: datetime | None) -> list[Select[Any]]:
    """Tickets on the customer alone, told from their rows (they have no deal to hold events)."""
    alone = and_(tk.c.customer_id == customer_id, tk.c.opportunity_id.is_(None))
    no_deal = cast(null(), Integer)
    no_text = cast(null(), String)

    def part(
        at: Any, rank: int, seq: Any, actor: Any, field: str, new: Any, note: Any, *where: Any
    ) -> Select[Any]:
        query = select(
            at.label("at"),
            cast(literal(rank), Integer).label("rank"),
            seq.label("seq"),
            no_deal.label("opportunity_id"),
            actor.label("actor"),
            cast(literal("ticket"), String).label("action"),
            cast(literal(field), String).label("field"),
            no_text.label("old"),
            new.label("new"),
            note.label("note"),
            cast(null(), Integer).label("task_id"),
            tk.c.id.label("ticket_id"),
        ).where(alone, *where)
        return query if since is None else query.where(at >= since)

    # At one instant: opened, then time logged (in the order logged), then solved.
    opened = part(tk.c.opened_at, 0, tk.c.id, tk.c.opened_by, TICKET_OPENED, tk.c.title, tk.c.kind)
    logged = part(
        tt.c.at,
        1,
        tt.c.id,
        tt.c.actor,
        TICKET_HOURS,
        cast(tt.c.hundredths, String),
        tt.c.note,
        tt.c.ticket_id == tk.c.id,
    )
    cm = schema.commands
    status_setter = select(cm.c.actor).where(cm.c.id == tk.c.status_command_id).scalar_subquery()
    solved = part(
        tk.c.solved_at,
        2,
        tk.c.id,
        func.coalesce(status_setter, tk.c.opened_by),  # who last set its status
        "ticket_status",
        tk.c.status,
        no_text,
        tk.c.solved_at.is_not(None),
    )
    return [opened, solved, logged]


def timeline(
    ctx: Context, deal: int | str | None = None, *, customer: str | None = None, since: str | None = None
) -> Iterator[TimelineEntry]:
    """The timeline of a deal, or of a customer (exactly one), oldest first; ``since`` counts from the
    start of that day (UTC). A generator: bad options raise at the first ``next``."""
    from opp.core.errors import Invalid

    if (deal is None) == (customer is None):
        raise Invalid("give exactly one of a deal id or a customer")
    start = None
    if since is not None:
        start = start_of_day_utc(parse_date(since, ctx.clock.today())).replace(tzinfo=None)
    with ctx.reading() as conn:
        parts: list[Select[Any]]
        if deal is not None:
            from opp.core.pipeline.deals import fetch_deals

            deal_id = parse_id(deal)
            fetch_deals(conn, [deal_id])
            parts = [_history_part([deal_id], start)]
        else:
            from opp.core.pipeline.customers import resolve_customer

            customer_id = resolve_customer(conn, customer or "").id
            parts = [_history_part(customer_deals(conn, customer_id), start)]
            parts += _lone_ticket_parts(customer_id, start)
        story = union_all(*parts).subquery("story") if len(parts) > 1 else parts[0].subquery("story")
        query = select(story).order_by(story.c.at, story.c.rank, story.c.seq)
        for row in conn.execute(query, execution_options={"yield_per": 1000}).mappings():
            yield _entry(row)


def customer_deals(conn: Connection, customer_id: int) -> Any:
    """The deals a customer's timeline covers, as a subquery of ids: its own deals, and the deals it or
    its people are contacts of."""
    from opp.core.pipeline.scope import DELETED

    own = select(o.c.id).where(o.c.customer_id == customer_id, o.c.status != DELETED)
    return union_all(own, contact_deals(conn, customer_id))


def contact_deals(conn: Connection, customer_id: int) -> Select[Any]:
    """The ids of the deals on which the customer, or a person employed by it, is a contact (deleted
    deals left out)."""
    from opp.core.pipeline.scope import not_deleted

    people = schema.customers
    contacts = schema.deal_contacts
    persons = select(people.c.id).where(or_(people.c.id == customer_id, people.c.employer_id == customer_id))
    return select(contacts.c.opportunity_id).where(
        contacts.c.customer_id.in_(persons), not_deleted(contacts.c.opportunity_id)
    )


def _entry(row: Any) -> TimelineEntry:
    action = row["action"]
    kind = TYPES.get(action, "deal")
    if row["task_id"] is not None:
        kind = "task"
    elif row["ticket_id"] is not None:
        kind = "ticket"
    return TimelineEntry(
        at=aware(row["at"]),  # type: ignore[arg-type]
        type=kind,
        opportunity_id=row["opportunity_id"],
        actor=row["actor"],
        text=describe(row, lone=row["opportunity_id"] is None),
        task_id=row["task_id"],
        ticket_id=row["ticket_id"],
    )


def describe(event: Any, *, lone: bool = False) -> str:
    """One event as a sentence (the timeline's ``text``)."""
    action, field, old, new, note = (event[k] for k in ("action", "field", "old", "new", "note"))
    suffix = f" ({note})" if note else ""
    if action == "created":
        return _created(new)
    if action == "stage" and field == "stage":
        return f"stage {old} → {new}{suffix}"
    if action == "assign":
        if new is None:
            return f"unassigned (was {old})"
        return f"claimed by {new}" if note == "claim" else f"assigned to {new}"
    if action == "note":
        return f"{field} note: {note}" if field and field != "internal" else f"note: {note}"
    if action == "invoice":
        return f"invoice {new} issued{suffix}"
    if action == "billable":
        if new is not None:
            return f"billable line {new} added{suffix}"
        return f"billable line {old} {note or 'removed'}"
    if action == "task":
        return _task(event)
    if action == "ticket":
        return _ticket(event, lone)
    if action == "contact":
        return _contact(old, new)
    if action == "undo":
        return note or "undo"
    return f"{_field_name(field)}: {_shown_as(field, old)} → {_shown_as(field, new)}{suffix}"


def _field_name(field: str | None) -> str:
    """A deal field as people say it (``expected close``); a custom field's name as defined."""
    return (field or "").replace("_", " ") if field in FIELDS else field or ""


def _shown_as(field: str | None, text: str | None) -> str:
    """A value as tables show it: an amount with thousands separators, a probability with ``%``."""
    if text is not None and field == "value":
        try:
            return format_money(Decimal(text))
        except ArithmeticError:
            return text
    if text is not None and field == "probability":
        return f"{text}%"
    return _shown(text)


def _contact(old: str | None, new: str | None) -> str:
    """A contact put on a deal, given another role, or taken off it (``old``/``new``: the person as
    ``{"id", "name", "role"}``, or null)."""

    def person(text: str | None) -> dict[str, Any]:
        try:
            found = json.loads(text) if text else {}
        except ValueError:
            found = {}
        return found if isinstance(found, dict) else {}

    before, after = person(old), person(new)
    if after and not before:
        role = f" as {after['role']}" if after.get("role") else ""
        return f"contact {after.get('name')} added{role}"
    if before and not after:
        return f"contact {before.get('name')} removed"
    return f"contact {after.get('name')}: role {before.get('role') or '—'} → {after.get('role') or '—'}"


def _shown(value: str | None) -> str:
    return "—" if value is None else value


def _created(snapshot: str | None) -> str:
    try:
        fields = json.loads(snapshot or "{}")
    except ValueError:
        fields = {}
    title = fields.get("title")
    stage = fields.get("stage")
    value = fields.get("value")
    parts = ["created"]
    if title:
        parts.append(repr(title) if '"' not in title else title)
    if stage:
        parts.append(f"in {stage}")
    if value is not None and fields.get("currency"):
        parts.append(f"at {_shown_as('value', str(value))} {fields['currency']}")
    return " ".join(parts)


def _task(event: Any) -> str:
    field, old, new, task_id = event["field"], event["old"], event["new"], event["task_id"]
    if field == TASK_ADDED:
        return f"task {task_id} added: {new}" + (f" ({event['note']})" if event["note"] else "")
    if field == "task_status":
        return f"task {task_id} done" if new == "done" else f"task {task_id} reopened"
    name = field.removeprefix("task_")
    return f"task {task_id} {name}: {_shown(old)} → {_shown(new)}"


def _ticket(event: Any, lone: bool) -> str:
    field, old, new, ticket_id = event["field"], event["old"], event["new"], event["ticket_id"]
    if field == TICKET_OPENED:
        return f"ticket {ticket_id} opened: {new}"
    if field == TICKET_HOURS:
        hours = hours_of(int(new)) if lone and new is not None else new
        return f"ticket {ticket_id}: {hours} h logged" + (f" ({event['note']})" if event["note"] else "")
    if field == "ticket_status":
        return f"ticket {ticket_id} {new}" if old is None else f"ticket {ticket_id} {old} → {new}"
    return f"ticket {ticket_id} {field}: {_shown(old)} → {_shown(new)}"
