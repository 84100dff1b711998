"""Undoing changes to tasks and tickets (called by :mod:`opp.core.pipeline.undo`).

A deal's ``task`` and ``ticket`` events say what a command did to them: a record it made is removed,
every field it changed goes back to the event's ``old`` side, time it logged is taken off. Each reversal
is recorded as an ``undo`` event of the deal naming the task or ticket. A ticket on a customer alone has
no deal events: its rows name the commands that opened it and logged time on it, which are undone the
same way; a status change of such a ticket cannot be (nothing kept says what it was before).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, delete, select, update

from opp.core.context import UnitOfWork
from opp.core.errors import Conflict
from opp.core.work.codec import (
    TASK_ADDED,
    TASK_FIELDS,
    TICKET_FIELDS,
    TICKET_HOURS,
    TICKET_OPENED,
    column_value,
)
from opp.store import schema

t = schema.tasks
tk = schema.tickets
tt = schema.ticket_time


def revert_events(uow: UnitOfWork, deal_id: int, events: Sequence[RowMapping], note: str) -> None:
    """Take back the command's task and ticket events of one deal, newest first."""
    for event in sorted(events, key=lambda found: found["id"], reverse=True):
        field, task_id, ticket_id = event["field"], event["task_id"], event["ticket_id"]
        if field == TASK_ADDED and task_id is not None:
            uow.conn.execute(delete(t).where(t.c.id == task_id))
        elif field in TASK_FIELDS and task_id is not None:
            column, kind = TASK_FIELDS[field]
            uow.conn.execute(
                update(t).where(t.c.id == task_id).values({column: column_value(kind, event["old"])})
            )
        elif field == TICKET_OPENED and ticket_id is not None:
            _remove_ticket(uow, ticket_id, event["command_id"])
        elif field in TICKET_FIELDS and ticket_id is not None:
            column, kind = TICKET_FIELDS[field]
            value = column_value(kind, event["old"])
            uow.conn.execute(update(tk).where(tk.c.id == ticket_id).values({column: value}))
        elif field == TICKET_HOURS and ticket_id is not None:
            uow.conn.execute(
                delete(tt).where(tt.c.ticket_id == ticket_id, tt.c.command_id == event["command_id"])
            )
        else:
            continue
        uow.record(
            deal_id,
            "undo",
            field=field,
            old=event["new"],
            new=event["old"],
            note=f"{note}: {event['note']}" if event["note"] else note,
            task_id=task_id,
            ticket_id=ticket_id,
        )


def _remove_ticket(uow: UnitOfWork, ticket_id: int, command_id: int) -> None:
    others = uow.conn.execute(
        select(tt.c.actor).where(tt.c.ticket_id == ticket_id, tt.c.command_id != command_id).limit(1)
    ).first()
    if others is not None:
        raise Conflict(
            f"ticket {ticket_id} has time logged on it since (by {others.actor}), so opening it cannot be "
            "undone",
            hint="see the ticket's time",
            reason="ticket-time-logged",
            details={"ticket": ticket_id},
        )
    uow.conn.execute(delete(tt).where(tt.c.ticket_id == ticket_id))
    uow.conn.execute(delete(tk).where(tk.c.id == ticket_id))


def revert_unlinked(uow: UnitOfWork, command_id: int) -> None:
    """Take back what the command did to tickets on a customer alone."""
    alone = tk.c.opportunity_id.is_(None)
    changed = uow.conn.execute(
        select(tk.c.id).where(alone, tk.c.status_command_id == command_id).limit(1)
    ).first()
    if changed is not None:
        raise Conflict(
            f"the status change of ticket {changed.id} (on a customer alone) cannot be undone",
            hint="set its status back by hand",
            reason="ticket-status-lone",
            details={"ticket": changed.id},
        )
    uow.conn.execute(
        delete(tt).where(
            tt.c.command_id == command_id,
            tt.c.ticket_id.in_(select(tk.c.id).where(alone)),
        )
    )
    for row in uow.conn.execute(select(tk.c.id).where(alone, tk.c.command_id == command_id)).all():
        _remove_ticket(uow, row.id, command_id)
