"""Loading the example data that ships with opp (``opp demo``): deals, exchange rates and quotas from
CSV files, and the work around the deals (people at the organizations, their places on deals, notes,
tasks and tickets).

The deals go through the importer's row rules (:mod:`opp.core.transfer.importer`), so the demo data and
an imported file mean the same thing; unlike ``opp import`` this only creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opp.core.analytics.quotas import Quota
from opp.core.context import Context
from opp.core.errors import Invalid, OppError
from opp.core.money.rates import Rate
from opp.core.records import Record
from opp.core.transfer.readers import (
    COLUMNS,
    RATE_COLUMNS,
    REQUIRED_COLUMNS,
    SourceRow,
    demo_header,
    iter_rows,
    open_binary,
    text_stream,
)


@dataclass(frozen=True)
class LoadSummary(Record):
    """What a load added."""

    created: int
    customers_created: int
    users_created: int


def _read_rows(
    path: Path, allowed: tuple[str, ...] = COLUMNS, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> list[SourceRow]:
    """A small CSV file's rows (rates); a row that cannot be read is refused with its line."""
    with text_stream(open_binary(path)) as stream:
        rows = [
            row
            for row in iter_rows(stream, "csv", str(path), demo_header(allowed, required))
            if not row.blank
        ]
    for row in rows:
        if row.error is not None:
            raise Invalid(f"line {row.line}: {row.error}")
    return rows


def load_deals_csv(ctx: Context, path: str | Path, *, only_into_empty: bool = False) -> LoadSummary:
    """Create a deal for every row of the CSV file at ``path``, all in one transaction.

    Unlike ``opp import`` this only creates: an external ref already in the database is a conflict, and
    one repeated in the file is refused. ``only_into_empty`` refuses (Conflict) a database that already
    holds deals, so sample data never mixes with real data and loading it twice is refused.
    """
    from opp.core.transfer.importer import ImportOptions, import_deals

    summary = import_deals(
        ctx,
        Path(path),
        ImportOptions(fmt="csv", create_only=True, only_into_empty=only_into_empty, command="demo"),
    )
    return LoadSummary(
        created=summary.created,
        customers_created=summary.customers_created,
        users_created=summary.users_created,
    )


def load_rates_csv(ctx: Context, path: str | Path) -> list[Rate]:
    """Set every exchange rate of a CSV file with the columns ``from,to,rate,date``."""
    from opp.core.money.rates import set_rate

    added = []
    for row in _read_rows(Path(path), RATE_COLUMNS, RATE_COLUMNS[:3]):
        cells = row.cells
        try:
            added.append(
                set_rate(ctx, cells["from"], cells["to"], cells["rate"], on=cells.get("date") or None)
            )
        except OppError as exc:
            exc.message = f"line {row.line}: {exc.message}"
            raise
    return added


@dataclass(frozen=True)
class WorkSummary(Record):
    """What a load of the work around the deals added."""

    people: int
    contacts: int
    notes: int
    tasks: int
    tickets: int


def load_work_csv(
    ctx: Context,
    *,
    people: Path | None = None,
    notes: Path | None = None,
    tasks: Path | None = None,
    tickets: Path | None = None,
) -> WorkSummary:
    """Load the work around deals already loaded: people and the deals they are contacts on, notes,
    tasks and tickets, each from its own CSV file where given."""
    made, contacts, written = _load_people_and_notes(ctx, people, notes)
    added_tasks, added_tickets = _load_tasks_and_tickets(ctx, tasks, tickets)
    return WorkSummary(
        people=made, contacts=contacts, notes=written, tasks=added_tasks, tickets=added_tickets
    )


def _load_people_and_notes(ctx: Context, people: Path | None, notes: Path | None) -> tuple[int, int, int]:
    """Load people and notes onto deals already loaded, in one unit of work.

    ``people`` has the columns ``name, employer, job_title, email, deal, role``: a person (created on
    the first row naming them) at an organization, put on the deal whose external ref is ``deal``.
    ``notes`` has ``deal, kind, text``. A row naming what does not exist is refused with its line.
    """
    from sqlalchemy import select

    from opp.core.pipeline.customers import insert_customer, read_customer, resolve_customer, resolve_employer
    from opp.core.pipeline.deals import lock_deal
    from opp.core.work.contacts import put_on_deal
    from opp.core.work.notes import check_kind
    from opp.store import schema

    o = schema.opportunities
    made = contacts = written = 0
    with ctx.unit_of_work("demo") as uow:

        def deal_of(ref: str, line: int) -> int:
            found = uow.conn.execute(select(o.c.id).where(o.c.external_ref == ref)).scalar()
            if found is None:
                raise Invalid(f"line {line}: no deal with the external ref {ref!r}")
            lock_deal(uow.conn, found)
            return int(found)

        people_rows = _read_rows(people, PEOPLE_COLUMNS, ("name",)) if people is not None else []
        for row in people_rows:
            cells = row.cells
            try:
                person = resolve_customer(uow.conn, cells["name"], kind="individual", strict=False)
            except OppError:
                employer = cells.get("employer") or None
                new_id = insert_customer(
                    uow.conn,
                    "individual",
                    cells["name"],
                    email=cells.get("email") or None,
                    phone=None,
                    at=uow.at,
                    employer_id=resolve_employer(uow.conn, employer).id if employer else None,
                    job_title=cells.get("job_title") or None,
                )
                person = read_customer(uow.conn, new_id)
                made += 1
            if cells.get("deal"):
                put_on_deal(uow, deal_of(cells["deal"], row.line), person, cells.get("role") or None)
                contacts += 1
        note_rows = _read_rows(notes, NOTE_COLUMNS, NOTE_COLUMNS) if notes is not None else []
        for row in note_rows:
            cells = row.cells
            deal_id = deal_of(cells["deal"], row.line)
            uow.record(deal_id, "note", field=check_kind(cells["kind"]), note=cells["text"])
            written += 1
    return made, contacts, written


PEOPLE_COLUMNS = ("name", "employer", "job_title", "email", "deal", "role")
NOTE_COLUMNS = ("deal", "kind", "text")


def _load_tasks_and_tickets(
    ctx: Context, tasks_path: Path | None, tickets_path: Path | None
) -> tuple[int, int]:
    """Add the example tasks and tickets: their deals are named by external ref (tickets may name a
    customer instead), due dates are relative to the clock (``-2d``, ``today``), so that the demo always
    has overdue work and work due this week. Each goes through the commands' own functions."""
    import csv

    from opp.core.pipeline.deals import list_deals
    from opp.core.work import tasks, tickets

    by_ref = {deal.external_ref: deal.id for deal in list_deals(ctx, status="all") if deal.external_ref}

    def deal_of(path: Path, line: int, ref: str) -> int:
        if ref not in by_ref:
            raise Invalid(f"{path} line {line}: no deal with the external ref {ref!r}")
        return by_ref[ref]

    added_tasks = added_tickets = 0
    if tasks_path is not None and tasks_path.is_file():
        with tasks_path.open(encoding="utf-8", newline="") as stream:
            for line, row in enumerate(csv.DictReader(stream), start=2):
                task = tasks.add_task(
                    ctx,
                    deal_of(tasks_path, line, row["external_ref"]),
                    row["title"],
                    due=row["due"] or None,
                    assign=row["assignee"],
                )
                if row["status"] == "done":
                    tasks.complete_tasks(ctx, [task.id])
                added_tasks += 1
    if tickets_path is not None and tickets_path.is_file():
        with tickets_path.open(encoding="utf-8", newline="") as stream:
            for line, row in enumerate(csv.DictReader(stream), start=2):
                ref = row["external_ref"]
                ticket = tickets.open_ticket(
                    ctx,
                    row["title"],
                    deal=deal_of(tickets_path, line, ref) if ref else None,
                    customer=row["customer"] or None,
                    kind=row["kind"] or None,
                    priority=row["priority"] or None,
                    assign=row["assignee"] or None,
                )
                if row["hours"]:
                    tickets.log_time(ctx, ticket.id, row["hours"])
                if row["status"] != "open":
                    tickets.set_status(ctx, ticket.id, row["status"])
                added_tickets += 1
    return added_tasks, added_tickets


#: The columns of a quotas file: ``user,period,amount,currency`` (a period may be relative, such as
#: this-quarter, so that the demo's quotas are for the quarter it is loaded in).
QUOTA_COLUMNS = ("user", "period", "amount", "currency")


def load_quotas_csv(ctx: Context, path: str | Path) -> list[Quota]:
    """Set every quota of a CSV file with the columns ``user,period,amount[,currency]``."""
    from opp.core.analytics.quotas import set_quota

    added = []
    for row in _read_rows(Path(path), QUOTA_COLUMNS, QUOTA_COLUMNS[:3]):
        cells = row.cells
        try:
            added.append(
                set_quota(
                    ctx,
                    cells["user"],
                    cells["period"],
                    cells["amount"],
                    currency=cells.get("currency") or None,
                )
            )
        except OppError as exc:
            exc.message = f"line {row.line}: {exc.message}"
            raise
    return added
