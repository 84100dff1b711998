"""Invoice commands: the invoices issued (list) and one of them (show), also as a printable document."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from opp.cli import state
from opp.cli.bill import LINE_COLUMNS
from opp.cli.options import ForceOpt, FormatOpt, OutOpt
from opp.cli.render import Column, Format, emit
from opp.core.values import plain

app = typer.Typer(help="Invoices issued with opp bill invoice.", no_args_is_help=True)

INVOICE_COLUMNS = [
    Column("number", "number"),
    Column("deal", "opportunity_id"),
    Column("customer", "customer.name", 24),
    Column("issued", "issue_date"),
    Column("due", "due_date"),
    Column("cur", "currency"),
    Column("subtotal", "subtotal"),
    Column("tax", "tax"),
    Column("total", "total"),
]


class InvoiceFormat(StrEnum):
    """The record formats, and two printable documents."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"
    html = "html"


DOCUMENTS = (InvoiceFormat.md, InvoiceFormat.html)


def emit_invoice(invoice: object, fmt: Format) -> None:
    """One invoice: in JSON whole; as a table its fields, then its lines; in CSV a row per line."""
    from opp.core.billing.invoices import Invoice

    assert isinstance(invoice, Invoice)
    lines = [{"invoice": invoice.number, **plain(line)} for line in invoice.lines]
    emit(invoice, fmt, rows=lines, extra_tables=[("lines", invoice.lines, LINE_COLUMNS)])


@app.command("list")
def invoice_list(
    deal: Annotated[str | None, typer.Option("--deal", metavar="ID", help="Invoices of this deal.")] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", metavar="REF", help="Invoices of this customer (id or name).")
    ] = None,
    period: Annotated[
        str | None,
        typer.Option("--period", metavar="P", help="Issued in 2026, 2026Q1, 2026-03, this-month ..."),
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List invoices in the order they were issued."""
    from opp.core.billing import invoices

    found = invoices.list_invoices(state.context(), deal_id=deal, customer=customer, period=period)
    emit(found, fmt, columns=INVOICE_COLUMNS, of=invoices.Invoice, empty="no invoices")


@app.command("show")
def invoice_show(
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="Invoice number, e.g. INV-2026-0001.")],
    fmt: Annotated[
        InvoiceFormat,
        typer.Option(
            "--format",
            "-f",
            envvar="OPP_FORMAT",
            case_sensitive=False,
            help="table, json, jsonl or csv; md or html for a printable invoice.",
        ),
    ] = InvoiceFormat.table,
    out: OutOpt = None,
    force: ForceOpt = False,
) -> None:
    """Show one invoice; --format md or html renders it for printing (HTML: self-contained)."""
    from opp.cli.documents import check_out
    from opp.core.billing import invoices

    check_out(out, force=force, document=fmt in DOCUMENTS)
    invoice = invoices.get_invoice(state.context(), number)
    if fmt in DOCUMENTS:
        from opp.cli.invoice_doc import write_document

        write_document(invoice, fmt.value, out, force=force)
    else:
        emit_invoice(invoice, Format(fmt.value))


def register(app_: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app_.add_typer(app, name="invoice")
