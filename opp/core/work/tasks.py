"""Tasks: the next steps on a deal, each for someone and maybe by a day.

A task belongs to one deal; every change to it is an event of that deal (action ``task``, see
:mod:`opp.core.work.codec`) written in the same unit of work, so ``opp undo`` takes it back. A task is
assigned to the acting user unless another known user is named. An open deal's next step is its open
task due first (undated ones last, then the first added): :func:`next_task_id` is that rule as SQL, which
the deal listing joins in the same query, and :func:`has_open_task` is what ``--without-task`` leaves out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, exists, func, insert, select, update

from opp.core.context import Context, UnitOfWork
from opp.core.dates import parse_date
from opp.core.errors import Invalid, NotFound
from opp.core.records import Task
from opp.core.refs import aware, clean_text, handle_key, parse_id, parse_ids
from opp.core.work.codec import TASK_ADDED, value_text
from opp.store import schema

t = schema.tasks
o = schema.opportunities

STATUSES = ("open", "done")
#: What ``task list --status`` takes.
LIST_STATUSES = (*STATUSES, "all")
TITLE_LENGTH = 500


def next_task_id(deal_id: ColumnElement[Any]) -> Any:
    """The id of the deal's open task due first (undated last, then lowest id), as a correlated SQL
    scalar. Two lookups, each read in order from the index on (opportunity_id, status, due): the first
    dated task, else the first undated one (one ``ORDER BY due IS NULL`` would sort every deal's tasks).
    """
    inner = t.alias("open_task")
    mine = [inner.c.opportunity_id == deal_id, inner.c.status == "open"]
    dated = (
        select(inner.c.id).where(*mine, inner.c.due.is_not(None)).order_by(inner.c.due, inner.c.id).limit(1)
    )
    undated = select(inner.c.id).where(*mine, inner.c.due.is_(None)).order_by(inner.c.id).limit(1)
    return func.coalesce(dated.scalar_subquery(), undated.scalar_subquery())


def has_open_task(deal_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the deal has an open task (SQL ``EXISTS``)."""
    inner = t.alias("any_open_task")
    return exists().where(inner.c.opportunity_id == deal_id, inner.c.status == "open")


def task_of(row: RowMapping) -> Task:
    return Task(
        id=row["id"],
        opportunity_id=row["opportunity_id"],
        title=row["title"],
        due=row["due"],
        assignee=row["assignee"],
        status=row["status"],
        created_at=aware(row["created_at"]),  # type: ignore[arg-type]
        done_at=aware(row["done_at"]),
    )


def _no_such_task(task_id: int) -> NotFound:
    return NotFound(f"no task {task_id}", hint="see the tasks there are", reason="no-task")


def lock_task(conn: Connection, task_id: int) -> RowMapping:
    row = conn.execute(select(t).where(t.c.id == task_id).with_for_update()).mappings().first()
    if row is None:
        raise _no_such_task(task_id)
    return row


def fetch_task(conn: Connection, task_id: int) -> Task:
    row = conn.execute(select(t).where(t.c.id == task_id)).mappings().first()
    if row is None:
        raise _no_such_task(task_id)
    return task_of(row)


def clean_title(text: str) -> str:
    title = clean_text(text, what="task title", max_length=TITLE_LENGTH, required=True)
    assert title is not None
    return title


def parse_due(text: str | None, today: date) -> date | None:
    """A due date in any form opp reads (``2026-12-31``, ``+3d``, ``eom`` ...); ``''`` is none."""
    if text is None or not text.strip() or text.strip().lower() == "none":
        return None
    return parse_date(text, today)


def _assignee(conn: Connection, handle: str | None, actor: str) -> str:
    """The handle a task goes to: a known user when named, else the acting user."""
    if handle is None:
        return actor
    from opp.core.pipeline.users import user_id

    user_id(conn, handle)  # NotFound for an unknown user
    return handle_key(handle)


def _record(
    uow: UnitOfWork, row: RowMapping | dict[str, Any], field: str, old: Any, new: Any, note: str
) -> None:
    uow.record(
        row["opportunity_id"],
        "task",
        field=field,
        old=value_text(old),
        new=value_text(new),
        note=note,
        task_id=row["id"],
    )


def add_task(
    ctx: Context, deal_id: int | str, title: str, *, due: str | None = None, assign: str | None = None
) -> Task:
    """Add an open task to a deal (closed deals too: a follow-up after the win)."""
    from opp.core.pipeline.deals import lock_deal

    wanted = parse_id(deal_id)
    clean = clean_title(title)
    day = parse_due(due, ctx.clock.today())
    with ctx.unit_of_work("task add") as uow:
        lock_deal(uow.conn, wanted)
        assignee = _assignee(uow.conn, assign, ctx.actor)
        values = {
            "opportunity_id": wanted,
            "title": clean,
            "due": day,
            "assignee": assignee,
            "status": "open",
            "created_at": uow.at,
            "done_at": None,
        }
        new_id = uow.conn.execute(insert(t).values(**values)).inserted_primary_key[0]  # type: ignore[index]
        when = f", due {value_text(day)}" if day is not None else ""
        _record(uow, {**values, "id": new_id}, TASK_ADDED, None, clean, f"for {assignee}{when}")
        return fetch_task(uow.conn, new_id)


def _set(uow: UnitOfWork, row: RowMapping, changes: dict[str, Any], note: str) -> None:
    """Write the changed columns of a task, one event per column."""
    changed = {column: value for column, value in changes.items() if row[column] != value}
    if not changed:
        return
    uow.conn.execute(update(t).where(t.c.id == row["id"]).values(**changed))
    for column, value in changed.items():
        _record(uow, row, f"task_{column}", row[column], value, note)


def complete_tasks(ctx: Context, task_ids: Iterable[int | str]) -> list[Task]:
    """Mark tasks done, all or none; one already done stays as it is."""
    ids = parse_ids(task_ids, what="task")
    with ctx.unit_of_work("task done") as uow:
        for task_id in ids:
            row = lock_task(uow.conn, task_id)
            if row["status"] != "done":
                _set(uow, row, {"status": "done", "done_at": uow.at}, f"task {task_id} done")
        return [fetch_task(uow.conn, task_id) for task_id in ids]


def reopen_task(ctx: Context, task_id: int | str) -> Task:
    """Open a done task again (an open one stays as it is)."""
    wanted = parse_id(task_id, what="task")
    with ctx.unit_of_work("task reopen") as uow:
        row = lock_task(uow.conn, wanted)
        _set(uow, row, {"status": "open", "done_at": None}, f"task {wanted} reopened")
        return fetch_task(uow.conn, wanted)


def edit_task(
    ctx: Context,
    task_id: int | str,
    *,
    title: str | None = None,
    due: str | None = None,
    assign: str | None = None,
) -> Task:
    """Change a task's title, due date (``''`` clears it) or assignee; one event per changed field."""
    wanted = parse_id(task_id, what="task")
    if title is None and due is None and assign is None:
        raise Invalid(
            "nothing to change",
            hint="give a title, a due date or an assignee",
            reason="task-nothing-to-change",
        )
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = clean_title(title)
    if due is not None:
        changes["due"] = parse_due(due, ctx.clock.today())
    with ctx.unit_of_work("task edit") as uow:
        row = lock_task(uow.conn, wanted)
        if assign is not None:
            changes["assignee"] = _assignee(uow.conn, assign, ctx.actor)
        _set(uow, row, changes, f"task {wanted} edited")
        return fetch_task(uow.conn, wanted)


@dataclass
class TaskFilter:
    """Which tasks a listing covers; every field that is set narrows it."""

    deal_id: int | None = None
    assignee: str | None = None
    status: str = "open"
    due_before: date | None = None
    due_through: date | None = None
    dated_only: bool = False
    #: Only the tasks of these deals (a query of their ids: the deals whose custom fields hold).
    deals: Select[Any] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        from opp.core.pipeline.scope import not_deleted

        found: list[ColumnElement[bool]] = [not_deleted(t.c.opportunity_id)]
        if self.deal_id is not None:
            found.append(t.c.opportunity_id == self.deal_id)
        if self.assignee is not None:
            found.append(t.c.assignee == self.assignee)
        if self.status != "all":
            found.append(t.c.status == self.status)
        if self.due_before is not None:
            found.append(t.c.due < self.due_before)
        if self.due_through is not None:
            found.append(t.c.due <= self.due_through)
        if self.dated_only:
            found.append(t.c.due.is_not(None))
        if self.deals is not None:
            found.append(t.c.opportunity_id.in_(self.deals))
        return found

    def query(self) -> Select[Any]:
        """The tasks by due date, undated last, then id."""
        return select(t).where(*self.conditions()).order_by(t.c.due.is_(None), t.c.due, t.c.id)

    def in_order(self) -> list[Select[Any]]:
        """The same tasks as :meth:`query`, as queries to run one after the other: the dated tasks by
        due date and id, then the undated ones by id. Each is read in order from an index on
        (who or which deal, status, due), so a long list is never sorted; one status is needed for that."""
        if self.status == "all":
            return [self.query()]
        dated = select(t).where(*self.conditions(), t.c.due.is_not(None)).order_by(t.c.due, t.c.id)
        if self.dated_only or self.due_before is not None or self.due_through is not None:
            return [dated]  # a due date bound leaves the undated ones out anyway
        undated = select(t).where(*self.conditions(), t.c.due.is_(None)).order_by(t.c.id)
        return [dated, undated]


def parse_status(text: str | None) -> str:
    status = (text or "open").strip().lower()
    if status not in LIST_STATUSES:
        raise Invalid(f"unknown task status {text!r}", hint="task statuses are " + ", ".join(LIST_STATUSES))
    return status


def who(conn: Connection, ctx: Context, assignee: str | None, mine: bool) -> str | None:
    """The handle a listing is narrowed to: a known user, the acting user (mine), or none."""
    if assignee is not None and mine:
        raise Invalid("give either an assignee or mine, not both")
    if mine:
        return ctx.actor
    if assignee is None:
        return None
    from opp.core.pipeline.users import user_id

    user_id(conn, assignee)
    return handle_key(assignee)


def list_tasks(
    ctx: Context,
    *,
    deal: int | str | None = None,
    assignee: str | None = None,
    mine: bool = False,
    status: str | None = None,
    overdue: bool = False,
    due_before: str | None = None,
    fields: Sequence[str] = (),
) -> Iterator[Task]:
    """Tasks (open ones unless ``status`` says otherwise), by due date, undated last, then id.

    ``overdue`` keeps open tasks due before today; ``due_before`` those due before that day; ``fields``
    (conditions on custom fields, as ``where`` elsewhere) the tasks of the deals whose fields hold. A
    generator: bad options raise at the first ``next``."""
    where = TaskFilter(status=parse_status(status))
    today = ctx.clock.today()
    if due_before is not None:
        where.due_before = parse_date(due_before, today)
    if overdue:
        where.status = "open"
        where.due_before = min(today, where.due_before or today)
    with ctx.reading() as conn:
        where.assignee = who(conn, ctx, assignee, mine)
        if deal is not None:
            from opp.core.pipeline.deals import fetch_deals

            where.deal_id = parse_id(deal)
            fetch_deals(conn, [where.deal_id])
        if fields:
            from opp.core.fields import where_sql

            where.deals = select(o.c.id).where(*where_sql(conn, fields, today))
        for query in where.in_order():
            for row in conn.execute(query, execution_options={"yield_per": 1000}).mappings():
                yield task_of(row)


def deal_titles(ctx: Context, deal_ids: Sequence[int]) -> dict[int, str]:
    """The titles of these deals (for a calendar's descriptions)."""
    wanted = sorted(set(deal_ids))
    found: dict[int, str] = {}
    with ctx.reading() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for row in conn.execute(select(o.c.id, o.c.title).where(o.c.id.in_(chunk))):
                found[row.id] = row.title
    return found
