"""Customer commands: add, edit, list, show, and finding and merging duplicates."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opp.cli import complete, state
from opp.cli.deals import DEAL_COLUMNS
from opp.cli.options import FormatOpt, RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(help="Customers: the organizations and individuals deals are for.", no_args_is_help=True)

CUSTOMER_COLUMNS = [
    Column("id", "id"),
    Column("kind", "kind"),
    Column("name", "name", 40),
    Column("email", "email"),
    Column("phone", "phone"),
    Column("employer", "employer.name", 30),
    Column("job title", "job_title", 30),
]
#: A customer's CSV columns: the employer as its id and name, as flattened records write it.
CUSTOMER_CSV = ["id", "kind", "name", "email", "phone", "employer_id", "employer", "job_title"]
TOTAL_COLUMNS = [
    Column("currency", "currency"),
    Column("open value", "open_value"),
    Column("open forecast", "open_forecast"),
    Column("won value", "won_value"),
    Column("lost value", "lost_value"),
    Column("billed", "billed"),
    Column("unbilled", "unbilled"),
]
DUPE_COLUMNS = [
    Column("keep id", "keep.id"),
    Column("keep", "keep.name", 30),
    Column("drop id", "drop.id"),
    Column("drop", "drop.name", 30),
    Column("kind", "keep.kind"),
    Column("reason", "reason", 40),
]

EmailOpt = Annotated[str | None, typer.Option("--email", metavar="E", help="Email address.")]
PhoneOpt = Annotated[str | None, typer.Option("--phone", metavar="P", help="Phone number.")]
EmployerOpt = Annotated[
    str | None,
    typer.Option(
        "--employer",
        metavar="ORG_REF",
        help="The organization an individual works for (id or exact name).",
        autocompletion=complete.complete_organization,
    ),
]
JobTitleOpt = Annotated[
    str | None, typer.Option("--job-title", metavar="T", help="An individual's job title.")
]
CustomerSetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="NAME=VALUE",
        help="Set a custom customer field (repeatable); NAME= clears it. See opp field list.",
        autocompletion=complete.complete_set_customer_field,
    ),
]
CustomerRefArg = Annotated[
    str,
    typer.Argument(
        metavar="REF", help="Customer id or exact name.", autocompletion=complete.complete_customer
    ),
]


def flat_customer(customer: Any) -> dict[str, Any]:
    """A customer as one CSV row (:data:`CUSTOMER_CSV`, then ``fields_NAME`` per custom field)."""
    row = customer.as_dict()
    employer = row.pop("employer", None)
    row["employer_id"] = None if employer is None else employer["id"]
    row["employer"] = None if employer is None else employer["name"]
    custom = row.get("fields") or {}
    return {**{key: row.get(key) for key in CUSTOMER_CSV}, **{f"fields_{k}": v for k, v in custom.items()}}


def csv_header(customers: Any) -> list[str]:
    """The CSV header of these customers: every customer carries every custom field of customers."""
    first = next(iter(customers), None)
    custom = [] if first is None else list(first.fields)
    return [*CUSTOMER_CSV, *(f"fields_{name}" for name in custom)]


def _emit_customer(customer: Any, fmt: Format) -> None:
    if fmt is Format.csv:
        emit([flat_customer(customer)], fmt, fields=csv_header([customer]))
    else:
        emit(customer, fmt)


@app.command()
def add(
    org: Annotated[str | None, typer.Option("--org", metavar="NAME", help="An organization.")] = None,
    person: Annotated[str | None, typer.Option("--person", metavar="NAME", help="An individual.")] = None,
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    employer: EmployerOpt = None,
    job_title: JobTitleOpt = None,
    set_fields: CustomerSetOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add a customer: exactly one of --org or --person (a person may work for an --employer); undoable
    while nothing names it."""
    from opp.core.errors import Invalid
    from opp.core.pipeline import customers

    if (org is None) == (person is None):
        raise Invalid("give exactly one of --org or --person", hint="for example --org 'Acme Corp'")
    kind, name = ("organization", org) if org is not None else ("individual", person)
    if kind == "organization" and (employer is not None or job_title is not None):
        raise Invalid(
            "--employer and --job-title belong to a person",
            hint="opp customer add --person NAME --employer ORG --job-title T",
        )
    added = customers.add_customer(
        state.context(),
        kind,
        name or "",
        email=email,
        phone=phone,
        employer=employer,
        job_title=job_title,
        set_fields=set_fields or (),
    )
    _emit_customer(added, fmt)


@app.command()
def edit(
    ref: CustomerRefArg,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME", help="New name.")] = None,
    email: EmailOpt = None,
    phone: PhoneOpt = None,
    employer: EmployerOpt = None,
    job_title: JobTitleOpt = None,
    set_fields: CustomerSetOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Change a customer's fields ('' clears an optional one: --email '', --employer ''); undoable."""
    from opp.core.errors import Invalid
    from opp.core.pipeline import customers

    if all(value is None for value in (name, email, phone, employer, job_title)) and not set_fields:
        raise Invalid(
            "nothing to change", hint="give --name, --email, --phone, --employer, --job-title or --set"
        )
    edited = customers.edit_customer(
        state.context(),
        ref,
        name=name,
        email=email,
        phone=phone,
        employer=employer,
        job_title=job_title,
        set_fields=set_fields or (),
    )
    _emit_customer(edited, fmt)


@app.command("list")
def list_(
    kind: Annotated[
        str | None, typer.Option("--kind", metavar="KIND", help="organization or individual.")
    ] = None,
    search: Annotated[str | None, typer.Option("--search", metavar="TEXT", help="Name contains.")] = None,
    employer: Annotated[
        str | None,
        typer.Option(
            "--employer",
            metavar="ORG_REF",
            help="Only the people of this organization.",
            autocompletion=complete.complete_organization,
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List customers."""
    from opp.core.pipeline import customers

    found = customers.list_customers(state.context(), kind=kind, search=search, employer=employer)
    from opp.core.records import Customer

    if fmt is Format.csv:
        rows = [flat_customer(customer) for customer in found]
        emit(rows, fmt, fields=csv_header(found))
        return
    columns = CUSTOMER_COLUMNS
    if fmt is Format.table:  # a column per custom customer field
        from opp.core.fields import field_names

        names = field_names(state.context(), "customer")
        columns = [*CUSTOMER_COLUMNS, *(Column(name, f"fields.{name}", 20) for name in names)]
    emit(found, fmt, columns=columns, of=Customer, empty="no customers match")


@app.command()
def show(ref: CustomerRefArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Show a customer with all its opportunities and their totals (an organization: also its people)."""
    from opp.core.pipeline import customers

    detail = customers.show_customer(state.context(), ref)
    who = flat_customer(detail)
    # CSV: a row per currency of the customer's deals (the customer alone when it has none).
    rows = [{**who, **figures} for figures in detail.totals["by_currency"]] or [who]
    emit(
        detail,
        fmt,
        rows=rows,
        extra_tables=[
            ("people", detail.people or [], CUSTOMER_COLUMNS),
            ("opportunities", detail.opportunities, DEAL_COLUMNS),
            ("totals", detail.totals["by_currency"], TOTAL_COLUMNS),
        ],
    )


@app.command()
def dupes(fmt: RecordFormatOpt = Format.table) -> None:
    """List customers that look like one: same name once case, accents, punctuation, spaces and a
    trailing legal form (Inc, Ltd, GmbH, AS ...) are ignored, or the same email. Of each pair, keep has
    more deals (then the lower id); merge it with opp customer merge KEEP DROP."""
    from opp.core.pipeline import merge

    found = merge.find_duplicates(state.context())
    emit(found, fmt, rows=found, columns=DUPE_COLUMNS, empty="no duplicates found")


@app.command()
def merge(
    keep: Annotated[
        str,
        typer.Argument(
            metavar="KEEP",
            help="The customer that stays (id or exact name).",
            autocompletion=complete.complete_customer,
        ),
    ],
    drop: Annotated[
        str,
        typer.Argument(
            metavar="DROP",
            help="The customer merged into KEEP and removed.",
            autocompletion=complete.complete_customer,
        ),
    ],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Merge DROP into KEEP: its deals (with their tasks), contact places, people, tickets and invoices
    move to KEEP (invoices keep the name they were issued to), KEEP takes the email, phone, employer,
    job title and custom field values it lacks, and DROP is removed. Undoable with opp undo."""
    from opp.core.pipeline import merge as merging

    result = merging.merge_customers(state.context(), keep, drop)
    row = {
        "keep_id": result.keep.id,
        "keep": result.keep.name,
        "drop_id": result.drop.id,
        "drop": result.drop.name,
        **result.moved,
    }
    emit(result, fmt, rows=[row] if fmt is Format.csv else None)
