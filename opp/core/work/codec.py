"""How a task's or ticket's field is written into a history event and read back by undo.

Every change to a task or ticket that belongs to a deal is an event of that deal (action ``task`` or
``ticket``) naming the record (``task_id``/``ticket_id``). Its ``field`` is prefixed (``task_status``,
``ticket_status``) so that it never reads as a field of the deal itself, which time travel and the
reports rebuild from history by field name. The events that make a record are ``task`` and ``ticket``
(undo removes the record); ``ticket_hours`` is time logged (undo removes that command's entries).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from opp.core.dates import format_date, format_instant, parse_instant

#: Event field -> (column, kind of value) of a task.
TASK_FIELDS: dict[str, tuple[str, str]] = {
    "task_title": ("title", "text"),
    "task_due": ("due", "date"),
    "task_assignee": ("assignee", "text"),
    "task_status": ("status", "text"),
    "task_done_at": ("done_at", "instant"),
}
#: Event field -> (column, kind of value) of a ticket.
TICKET_FIELDS: dict[str, tuple[str, str]] = {
    "ticket_status": ("status", "text"),
    "ticket_solved_at": ("solved_at", "instant"),
}
#: The event that makes a task, a ticket, and time logged on a ticket.
TASK_ADDED = "task"
TICKET_OPENED = "ticket"
TICKET_HOURS = "ticket_hours"
#: Events that only accompany another (the instant a status was reached): not told in a timeline.
COMPANIONS = ("task_done_at", "ticket_solved_at")


def value_text(value: Any) -> str | None:
    """A column's value as history text: dates ``YYYY-MM-DD``, instants ``...Z``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return format_date(value)
    return str(value)


def column_value(kind: str, text: str | None) -> Any:
    """History text back as the column's value (naive UTC for instants, as stored)."""
    if text is None:
        return None
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "instant":
        return parse_instant(text).replace(tzinfo=None)
    return text
