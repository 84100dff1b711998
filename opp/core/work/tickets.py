"""Support tickets: pre-sale and post-sale work on a deal, or on a customer alone, and the time it took.

A ticket on a deal carries the deal's customer; its changes are events of the deal (action ``ticket``,
see :mod:`opp.core.work.codec`), so ``opp undo`` and the deal's timeline see them. A ticket on a
customer alone has no deal to hold events: the command that opened it, the one that last set its status
and the one that logged each entry of time are kept on its rows, which is what undo reverts by.

Time is logged in hours with at most two decimals and kept as whole hundredths of an hour, so sums are
exact integers in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, insert, select, update

from opp.core.context import Context, UnitOfWork
from opp.core.errors import Invalid, NotFound
from opp.core.records import CustomerRef, Record, Ticket
from opp.core.refs import aware, clean_text, handle_key, parse_id
from opp.core.work.codec import TICKET_HOURS, TICKET_OPENED, value_text
from opp.store import schema

tk = schema.tickets
tt = schema.ticket_time
o = schema.opportunities
cu = schema.customers

KINDS = ("pre-sale", "post-sale")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "pending", "solved", "closed")
#: Statuses in which a ticket counts as solved (``solved_at`` set).
SOLVED = ("solved", "closed")
#: Most hours one ``ticket log`` takes (a year of days and nights).
MAX_HOURS = Decimal(8784)
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class TimeEntry(Record):
    """Time logged on a ticket."""

    at: datetime
    actor: str
    hours: Decimal
    note: str | None


@dataclass(frozen=True)
class TicketDetail(Record):
    """A ticket with the time logged on it (``opp ticket show``)."""

    ticket: Ticket
    time: list[TimeEntry]

    def as_dict(self) -> dict[str, Any]:
        return {**self.ticket.as_dict(), "time": [entry.as_dict() for entry in self.time]}


_PLURALS = {"kind": "kinds", "priority": "priorities", "status": "statuses"}


def _choice(text: str | None, allowed: tuple[str, ...], what: str) -> str:
    word = (text or "").strip().lower()
    if word not in allowed:
        raise Invalid(
            f"unknown ticket {what} {text!r}", hint=f"ticket {_PLURALS[what]} are " + ", ".join(allowed)
        )
    return word


def parse_kind(text: str) -> str:
    return _choice(text, KINDS, "kind")


def parse_priority(text: str) -> str:
    return _choice(text, PRIORITIES, "priority")


def parse_status(text: str) -> str:
    return _choice(text, STATUSES, "status")


def hours_of(hundredths: int) -> Decimal:
    return (Decimal(hundredths) / 100).quantize(HUNDREDTH)


def parse_hours(text: str) -> int:
    """Hours spent as whole hundredths: a positive decimal with at most two decimals (``1.5``, ``0.25``)."""
    typed = text.strip()
    try:
        hours = Decimal(typed)
    except InvalidOperation:
        hours = None
    hint = "give the hours as a positive number with at most 2 decimals, such as 1.5"
    if hours is None or not hours.is_finite():
        raise Invalid(f"hours must be a number, not {text!r}", hint=hint)
    if hours <= 0:
        raise Invalid(f"hours must be positive, not {text!r}", hint=hint)
    if hours.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Invalid(f"hours {text!r} have more than 2 decimals", hint=hint)
    if hours > MAX_HOURS:
        raise Invalid(f"{text} hours is more than one entry can hold ({MAX_HOURS})", hint=hint)
    return int(hours * 100)


def _hours_column() -> Any:
    return (
        select(func.coalesce(func.sum(tt.c.hundredths), 0))
        .where(tt.c.ticket_id == tk.c.id)
        .correlate(tk)
        .scalar_subquery()
    )


def _ticket_select() -> Select[Any]:
    return select(
        tk,
        cu.c.kind.label("customer_kind"),
        cu.c.name.label("customer_name"),
        _hours_column().label("hundredths"),
    ).join(cu, cu.c.id == tk.c.customer_id)


def ticket_of(row: RowMapping) -> Ticket:
    return Ticket(
        id=row["id"],
        opportunity_id=row["opportunity_id"],
        customer=CustomerRef(id=row["customer_id"], kind=row["customer_kind"], name=row["customer_name"]),
        title=row["title"],
        kind=row["kind"],
        priority=row["priority"],
        status=row["status"],
        assignee=row["assignee"],
        opened_at=aware(row["opened_at"]),  # type: ignore[arg-type]
        solved_at=aware(row["solved_at"]),
        hours=hours_of(int(row["hundredths"])),
    )


def _no_such_ticket(ticket_id: int) -> NotFound:
    return NotFound(f"no ticket {ticket_id}", hint="see the tickets there are", reason="no-ticket")


def fetch_ticket(conn: Connection, ticket_id: int) -> Ticket:
    row = conn.execute(_ticket_select().where(tk.c.id == ticket_id)).mappings().first()
    if row is None:
        raise _no_such_ticket(ticket_id)
    return ticket_of(row)


def lock_ticket(conn: Connection, ticket_id: int) -> RowMapping:
    row = conn.execute(select(tk).where(tk.c.id == ticket_id).with_for_update()).mappings().first()
    if row is None:
        raise _no_such_ticket(ticket_id)
    return row


def record_event(
    uow: UnitOfWork, row: RowMapping | dict[str, Any], field: str, old: Any, new: Any, note: str | None
) -> None:
    """An event of the ticket's deal; a ticket on a customer alone has none (its rows say what changed)."""
    if row["opportunity_id"] is None:
        return
    uow.record(
        row["opportunity_id"],
        "ticket",
        field=field,
        old=value_text(old),
        new=value_text(new),
        note=note,
        ticket_id=row["id"],
    )


def open_ticket(
    ctx: Context,
    title: str,
    *,
    deal: int | str | None = None,
    customer: str | None = None,
    kind: str | None = None,
    priority: str | None = None,
    assign: str | None = None,
) -> Ticket:
    """Open a ticket on a deal or on a customer alone (exactly one). The kind defaults to post-sale on a
    won deal, else pre-sale; the priority to normal."""
    from opp.core.pipeline.customers import resolve_customer
    from opp.core.pipeline.deals import lock_deal
    from opp.core.pipeline.users import user_id

    if (deal is None) == (customer is None):
        raise Invalid("give exactly one of a deal id or a customer")
    clean = clean_text(title, what="ticket title", max_length=500, required=True)
    chosen_priority = parse_priority(priority) if priority is not None else "normal"
    chosen_kind = parse_kind(kind) if kind is not None else None
    deal_id = parse_id(deal) if deal is not None else None
    with ctx.unit_of_work("ticket add") as uow:
        if deal_id is not None:
            deal_row = lock_deal(uow.conn, deal_id)
            customer_id = deal_row["customer_id"]
            won = deal_row["status"] == "won"
        else:
            customer_id = resolve_customer(uow.conn, customer or "").id
            won = False
        if assign is not None:
            user_id(uow.conn, assign)
        values = {
            "opportunity_id": deal_id,
            "customer_id": customer_id,
            "title": clean,
            "kind": chosen_kind or ("post-sale" if won else "pre-sale"),
            "priority": chosen_priority,
            "status": "open",
            "assignee": handle_key(assign) if assign is not None else None,
            "opened_at": uow.at,
            "opened_by": ctx.actor,
            "solved_at": None,
            "command_id": uow.command_id(),
            "status_command_id": None,
        }
        new_id = uow.conn.execute(insert(tk).values(**values)).inserted_primary_key[0]  # type: ignore[index]
        note = f"ticket {new_id} ({values['kind']}, {values['priority']})"
        record_event(uow, {**values, "id": new_id}, TICKET_OPENED, None, clean, note)
        return fetch_ticket(uow.conn, new_id)


def set_status(ctx: Context, ticket_id: int | str, status: str) -> Ticket:
    """Move a ticket to a status: solved and closed set ``solved_at`` (kept from solved to closed),
    open and pending clear it. The status it has already changes nothing."""
    wanted = parse_id(ticket_id, what="ticket")
    new_status = parse_status(status)
    with ctx.unit_of_work("ticket status") as uow:
        row = lock_ticket(uow.conn, wanted)
        if row["status"] != new_status:
            solved_at = row["solved_at"] if new_status in SOLVED else None
            if new_status in SOLVED and solved_at is None:
                solved_at = uow.at
            changes: dict[str, Any] = {"status": new_status, "solved_at": solved_at}
            if row["opportunity_id"] is None:
                changes["status_command_id"] = uow.command_id()
            uow.conn.execute(update(tk).where(tk.c.id == wanted).values(**changes))
            note = f"ticket {wanted} {new_status}"
            record_event(uow, row, "ticket_status", row["status"], new_status, note)
            if solved_at != row["solved_at"]:
                record_event(uow, row, "ticket_solved_at", row["solved_at"], solved_at, note)
        return fetch_ticket(uow.conn, wanted)


def log_time(ctx: Context, ticket_id: int | str, hours: str, *, note: str | None = None) -> Ticket:
    """Add time spent on a ticket (a closed one too: time is often booked afterwards)."""
    wanted = parse_id(ticket_id, what="ticket")
    hundredths = parse_hours(hours)
    text = clean_text(note, what="note", max_length=10_000)
    with ctx.unit_of_work("ticket log") as uow:
        row = lock_ticket(uow.conn, wanted)
        uow.conn.execute(
            insert(tt).values(
                ticket_id=wanted,
                hundredths=hundredths,
                note=text,
                at=uow.at,
                actor=ctx.actor,
                command_id=uow.command_id(),
            )
        )
        logged = value_text(hours_of(hundredths))
        record_event(uow, row, TICKET_HOURS, None, logged, text)
        return fetch_ticket(uow.conn, wanted)


def show_ticket(ctx: Context, ticket_id: int | str) -> TicketDetail:
    wanted = parse_id(ticket_id, what="ticket")
    with ctx.reading() as conn:
        ticket = fetch_ticket(conn, wanted)
        rows = conn.execute(select(tt).where(tt.c.ticket_id == wanted).order_by(tt.c.id)).mappings()
        time = [
            TimeEntry(
                at=aware(row["at"]),  # type: ignore[arg-type]
                actor=row["actor"],
                hours=hours_of(row["hundredths"]),
                note=row["note"],
            )
            for row in rows
        ]
    return TicketDetail(ticket=ticket, time=time)


def list_tickets(
    ctx: Context,
    *,
    deal: int | str | None = None,
    customer: str | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> Iterator[Ticket]:
    """Tickets in id order: not closed unless ``status`` names one (or ``all``); a customer's tickets
    are those on its deals and on it alone. A generator."""
    from opp.core.pipeline.customers import resolve_customer
    from opp.core.pipeline.scope import not_deleted

    query = _ticket_select().where(not_deleted(tk.c.opportunity_id))
    if status is None:
        query = query.where(tk.c.status != "closed")
    elif status.strip().lower() != "all":
        query = query.where(tk.c.status == _choice(status, (*STATUSES, "all"), "status"))
    if kind is not None:
        query = query.where(tk.c.kind == parse_kind(kind))
    with ctx.reading() as conn:
        if deal is not None:
            from opp.core.pipeline.deals import fetch_deals

            deal_id = parse_id(deal)
            fetch_deals(conn, [deal_id])
            query = query.where(tk.c.opportunity_id == deal_id)
        if customer is not None:
            query = query.where(tk.c.customer_id == resolve_customer(conn, customer).id)
        for row in conn.execute(query.order_by(tk.c.id), execution_options={"yield_per": 1000}).mappings():
            yield ticket_of(row)
