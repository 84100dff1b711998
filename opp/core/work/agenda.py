"""``opp agenda``: someone's open tasks that are overdue or due within the next days, overdue first.

"Today" is the opp clock's day in UTC (``OPP_NOW`` or the real time), as everywhere in opp: a task due
on that day is ``today``, one due earlier ``overdue``, one due later (within the days asked) ``upcoming``.
Undated tasks are never on an agenda.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from opp.core.context import Context
from opp.core.errors import Invalid
from opp.core.records import Record
from opp.core.refs import aware
from opp.core.work.tasks import TaskFilter, t, who
from opp.store import schema

o = schema.opportunities

DEFAULT_DAYS = 7
BUCKETS = ("overdue", "today", "upcoming")


@dataclass(frozen=True)
class AgendaItem(Record):
    """A task on the agenda: the task's keys, its ``bucket``, and the title of its deal."""

    id: int
    opportunity_id: int
    title: str
    due: date
    assignee: str | None
    status: str
    created_at: datetime
    done_at: datetime | None
    bucket: str
    deal_title: str


def bucket_of(due: date, today: date) -> str:
    if due < today:
        return "overdue"
    return "today" if due == today else "upcoming"


def agenda(
    ctx: Context, *, days: int | None = None, assignee: str | None = None, everyone: bool = False
) -> Iterator[AgendaItem]:
    """The acting user's (or ``assignee``'s, or with ``everyone`` all) open tasks due within ``days``
    days of today (default 7) or overdue, by due date then id. A generator."""
    span = DEFAULT_DAYS if days is None else days
    if span < 0 or span > 36_500:
        raise Invalid(f"days must be a number from 0 to 36500, not {span}")
    if everyone and assignee is not None:
        raise Invalid("give either an assignee or everyone, not both")
    today = ctx.clock.today()
    where = TaskFilter(status="open", due_through=today + timedelta(days=span), dated_only=True)
    with ctx.reading() as conn:
        if not everyone:
            where.assignee = who(conn, ctx, assignee, assignee is None)
        query = (
            select(t, o.c.title.label("deal_title"))
            .join(o, o.c.id == t.c.opportunity_id)
            .where(*where.conditions())
            .order_by(t.c.due, t.c.id)
        )
        for row in conn.execute(query).mappings():
            yield AgendaItem(
                id=row["id"],
                opportunity_id=row["opportunity_id"],
                title=row["title"],
                due=row["due"],
                assignee=row["assignee"],
                status=row["status"],
                created_at=aware(row["created_at"]),  # type: ignore[arg-type]
                done_at=aware(row["done_at"]),
                bucket=bucket_of(row["due"], today),
                deal_title=row["deal_title"],
            )
