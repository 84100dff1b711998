"""Task commands (task add, done, reopen, edit, list) and the agenda; both print calendars (--format ics)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer

from opp.cli import complete, state
from opp.cli.options import AssignToOpt, CalendarFormatOpt, FormatOpt, IdArg, RecordFormatOpt
from opp.cli.render import CalendarEvent, Column, Format, emit, emit_calendar

app = typer.Typer(help="Tasks: the next steps on deals, with due dates and assignees.", no_args_is_help=True)

CHECK_FOUND_SOMETHING = 6
#: The domain every task's calendar UID ends with: the same task keeps the same UID.
UID_DOMAIN = "opp.tasks"

TASK_COLUMNS = [
    Column("id", "id"),
    Column("deal", "opportunity_id"),
    Column("title", "title", 40),
    Column("due", "due"),
    Column("assignee", "assignee"),
    Column("status", "status"),
]
AGENDA_COLUMNS = [
    Column("when", "bucket"),
    Column("due", "due"),
    Column("id", "id"),
    Column("task", "title", 40),
    Column("deal", "opportunity_id"),
    Column("deal title", "deal_title", 30),
    Column("assignee", "assignee"),
]

TaskArg = Annotated[
    str, typer.Argument(metavar="TASK", help="Task id.", autocompletion=complete.complete_task)
]
DueOpt = Annotated[
    str | None,
    typer.Option("--due", metavar="DATE", help="Due date: 2026-12-31, today, tomorrow, +3d, +2w, eom ..."),
]
AssignOpt = Annotated[
    str | None,
    typer.Option(
        "--assign",
        metavar="HANDLE",
        help="Assign to this user (default: you).",
        autocompletion=complete.complete_user,
    ),
]


def calendar_uid(task_id: int) -> str:
    """A task's iCalendar UID: the same for the same task in every export."""
    return f"task-{task_id}@{UID_DOMAIN}"


def _calendar(tasks: Iterable[Any], titles: dict[int, str] | None = None) -> Iterator[CalendarEvent]:
    for task in tasks:
        if task.due is None:
            continue
        deal_title = getattr(task, "deal_title", None) or (titles or {}).get(task.opportunity_id, "")
        yield CalendarEvent(
            uid=calendar_uid(task.id),
            day=task.due,
            summary=task.title,
            description=f"Deal {task.opportunity_id}: {deal_title}",
            stamp=task.created_at,
        )


@app.command("add")
def task_add(
    deal_id: IdArg,
    title: Annotated[str, typer.Argument(metavar="TITLE", help="What to do, e.g. 'Send the proposal'.")],
    due: DueOpt = None,
    assign: AssignOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add a task to an opportunity (assigned to you unless --assign names someone)."""
    from opp.core.work import tasks

    emit(tasks.add_task(state.context(), deal_id, title, due=due, assign=assign), fmt)


@app.command("done")
def task_done(
    task_ids: Annotated[
        list[str], typer.Argument(metavar="TASK...", help="Task ids.", autocompletion=complete.complete_task)
    ],
    fmt: FormatOpt = Format.table,
) -> None:
    """Mark tasks done: all of them, or none if one is unknown."""
    from opp.core.work import tasks

    emit(tasks.complete_tasks(state.context(), task_ids), fmt, columns=TASK_COLUMNS)


@app.command("reopen")
def task_reopen(task_id: TaskArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Open a done task again."""
    from opp.core.work import tasks

    emit(tasks.reopen_task(state.context(), task_id), fmt)


@app.command("edit")
def task_edit(
    task_id: TaskArg,
    title: Annotated[str | None, typer.Option("--title", metavar="T", help="New title.")] = None,
    due: Annotated[
        str | None, typer.Option("--due", metavar="DATE", help="New due date; '' removes it.")
    ] = None,
    assign: AssignToOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Change a task's title, due date or assignee; each change is recorded in its deal's history."""
    from opp.core.work import tasks

    emit(tasks.edit_task(state.context(), task_id, title=title, due=due, assign=assign), fmt)


@app.command("list")
def task_list(
    deal: Annotated[
        str | None, typer.Option("--deal", metavar="ID", help="Tasks of this opportunity.")
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(
            "--assignee", metavar="H", help="Tasks of this user.", autocompletion=complete.complete_user
        ),
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Your tasks (--as).")] = False,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="open, done or all (default open).",
            autocompletion=complete.offer(("open", "done", "all")),
        ),
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Open tasks due before today.")] = False,
    due_before: Annotated[
        str | None, typer.Option("--due-before", metavar="DATE", help="Tasks due before that day.")
    ] = None,
    fmt: CalendarFormatOpt = Format.table,
) -> None:
    """List tasks (open ones unless --status says otherwise) by due date, undated last, then id;
    --format ics writes the dated ones as an iCalendar file."""
    from opp.core.errors import Invalid
    from opp.core.records import Task
    from opp.core.work import tasks

    if assignee is not None and mine:
        raise Invalid("give either --assignee or --mine, not both")
    ctx = state.context()
    found = tasks.list_tasks(
        ctx, deal=deal, assignee=assignee, mine=mine, status=status, overdue=overdue, due_before=due_before
    )
    if fmt is Format.ics:
        listed = list(found)
        titles = tasks.deal_titles(ctx, [task.opportunity_id for task in listed if task.due is not None])
        emit_calendar(_calendar(listed, titles), name="opp tasks")
        return
    emit(found, fmt, columns=TASK_COLUMNS, of=Task, empty="no tasks match")


def agenda(
    days: Annotated[
        int | None, typer.Option("--days", metavar="N", help="Tasks due within N days (default 7).")
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(
            "--assignee",
            metavar="H",
            help="This user's agenda (default: yours).",
            autocompletion=complete.complete_user,
        ),
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Everyone's tasks.")] = False,
    fail_if_any: Annotated[
        bool, typer.Option("--fail-if-any", help="Exit 6 when an overdue task is listed (cron alerts).")
    ] = False,
    fmt: CalendarFormatOpt = Format.table,
) -> None:
    """Your open tasks that are overdue or due within --days days, overdue first; each with its bucket:
    overdue, today or upcoming (today is the UTC day of the opp clock, OPP_NOW)."""
    from opp.core.errors import Invalid
    from opp.core.work.agenda import AgendaItem
    from opp.core.work.agenda import agenda as read_agenda

    if assignee is not None and everyone:
        raise Invalid("give either --assignee or --all, not both")
    items = list(read_agenda(state.context(), days=days, assignee=assignee, everyone=everyone))
    if fmt is Format.ics:
        emit_calendar(_calendar(items), name="opp agenda")
    else:
        emit(items, fmt, columns=AGENDA_COLUMNS, of=AgendaItem, empty="nothing due")
    if fail_if_any and any(item.bucket == "overdue" for item in items):
        raise typer.Exit(CHECK_FOUND_SOMETHING)


def register(root: typer.Typer) -> None:
    """Add this module's commands to the app."""
    root.add_typer(app, name="task")
    root.command()(agenda)
