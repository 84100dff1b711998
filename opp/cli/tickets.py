"""Ticket commands (ticket add, status, log, list, show) and the timeline of a deal or a customer."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import complete, state
from opp.cli.options import AssignToOpt, CustomerOpt, FormatOpt, RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(
    help="Support tickets, pre-sale and post-sale, on a deal or a customer, and the time spent on them.",
    no_args_is_help=True,
)

KINDS = ("pre-sale", "post-sale")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "pending", "solved", "closed")

TICKET_COLUMNS = [
    Column("id", "id"),
    Column("deal", "opportunity_id"),
    Column("customer", "customer.name", 24),
    Column("title", "title", 40),
    Column("kind", "kind"),
    Column("priority", "priority"),
    Column("status", "status"),
    Column("assignee", "assignee"),
    Column("hours", "hours"),
]
TIME_COLUMNS = [
    Column("at", "at"),
    Column("actor", "actor"),
    Column("hours", "hours"),
    Column("note", "note", 50),
]
TIMELINE_COLUMNS = [
    Column("at", "at"),
    Column("type", "type"),
    Column("deal", "opportunity_id"),
    Column("actor", "actor"),
    Column("text", "text", 70),
]

TicketArg = Annotated[
    str, typer.Argument(metavar="TICKET", help="Ticket id.", autocompletion=complete.complete_ticket)
]


@app.command("add")
def ticket_add(
    first: Annotated[str, typer.Argument(metavar="ID|TITLE", help="Opportunity id, then the title.")],
    title: Annotated[
        str | None,
        typer.Argument(metavar="[TITLE]", help="The title (alone with --customer).", show_default=False),
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option(
            "--customer",
            metavar="REF",
            help="A ticket on this customer alone (no deal).",
            autocompletion=complete.complete_customer,
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="K",
            help="pre-sale or post-sale (default: post-sale on a won deal, else pre-sale).",
            autocompletion=complete.offer(KINDS),
        ),
    ] = None,
    priority: Annotated[
        str | None,
        typer.Option(
            "--priority",
            metavar="P",
            help="low, normal, high or urgent (default normal).",
            autocompletion=complete.offer(PRIORITIES),
        ),
    ] = None,
    assign: AssignToOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Open a ticket: opp ticket add ID TITLE, or opp ticket add --customer REF TITLE."""
    from opp.core.errors import Invalid
    from opp.core.work import tickets

    if customer is not None:
        if title is not None:
            raise Invalid("with --customer give only the title", hint="opp ticket add --customer REF TITLE")
        deal, text = None, first
    else:
        if title is None:
            raise Invalid("give an opportunity id and a title, or --customer REF and a title")
        deal, text = first, title
    found = tickets.open_ticket(
        state.context(), text, deal=deal, customer=customer, kind=kind, priority=priority, assign=assign
    )
    emit(found, fmt)


@app.command("status")
def ticket_status(
    ticket_id: TicketArg,
    status: Annotated[
        str,
        typer.Argument(
            metavar="STATUS", help="open, pending, solved or closed.", autocompletion=complete.offer(STATUSES)
        ),
    ],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Move a ticket to a status (solved and closed set solved_at; open and pending clear it)."""
    from opp.core.work import tickets

    emit(tickets.set_status(state.context(), ticket_id, status), fmt)


@app.command("log")
def ticket_log(
    ticket_id: TicketArg,
    hours: Annotated[
        str, typer.Argument(metavar="HOURS", help="Time spent: a positive number, 2 decimals at most.")
    ],
    note: Annotated[str | None, typer.Option("--note", metavar="T", help="What the time went on.")] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Log time spent on a ticket."""
    from opp.core.work import tickets

    emit(tickets.log_time(state.context(), ticket_id, hours, note=note), fmt)


@app.command("list")
def ticket_list(
    deal: Annotated[
        str | None, typer.Option("--deal", metavar="ID", help="Tickets of this opportunity.")
    ] = None,
    customer: CustomerOpt = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="S",
            help="open, pending, solved, closed or all (default: all but closed).",
            autocompletion=complete.offer((*STATUSES, "all")),
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", metavar="K", help="pre-sale or post-sale.", autocompletion=complete.offer(KINDS)
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List tickets in the order they were opened (closed ones only with --status)."""
    from opp.core.records import Ticket
    from opp.core.work import tickets

    found = tickets.list_tickets(state.context(), deal=deal, customer=customer, status=status, kind=kind)
    emit(found, fmt, columns=TICKET_COLUMNS, of=Ticket, empty="no tickets match")


@app.command("show")
def ticket_show(ticket_id: TicketArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Show a ticket with the time logged on it."""
    from opp.core.work import tickets

    detail = tickets.show_ticket(state.context(), ticket_id)
    record = detail.as_dict()
    if fmt is Format.table:
        record.pop("time")  # its own table below
    emit(record, fmt, extra_tables=[("time", detail.time, TIME_COLUMNS)])


def timeline(
    deal_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="An opportunity id.")] = None,
    customer: CustomerOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="From the start of that day (UTC).")
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Everything that happened to an opportunity, or to a customer (its deals, the deals its people are
    contacts of, its tickets), oldest first: deal events, notes, tasks, tickets and invoices."""
    from opp.core.errors import Invalid
    from opp.core.work.timeline import TimelineEntry
    from opp.core.work.timeline import timeline as read_timeline

    if (deal_id is None) == (customer is None):
        raise Invalid("give an opportunity id or --customer REF (one of them)")
    found = read_timeline(state.context(), deal_id, customer=customer, since=since)
    emit(found, fmt, columns=TIMELINE_COLUMNS, of=TimelineEntry, empty="nothing happened yet")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the app."""
    root.add_typer(app, name="ticket")
    root.command()(timeline)
