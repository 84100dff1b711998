"""Billing commands: a deal's billable lines and their invoicing (bill), and the service catalog (service)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from opp.cli import complete, state
from opp.cli.options import FormatOpt, IdArg, RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(help="Billable lines of a deal, and invoicing them.", no_args_is_help=True)
service_app = typer.Typer(help="The service catalog.", no_args_is_help=True)

LINE_COLUMNS = [
    Column("line", "line"),
    Column("description", "description", 40),
    Column("service", "service"),
    Column("qty", "quantity"),
    Column("unit price", "unit_price"),
    Column("tax %", "tax_rate"),
    Column("amount", "amount"),
    Column("tax", "tax"),
    Column("invoice", "invoice"),
]
SERVICE_COLUMNS = [
    Column("code", "code"),
    Column("name", "name", 40),
    Column("price", "price"),
    Column("cur", "currency"),
    Column("unit", "unit"),
    Column("tax %", "tax_rate"),
    Column("retired", "retired"),
]
TaxOpt = Annotated[
    str | None, typer.Option("--tax", metavar="PERCENT", help="Tax rate in percent (default 0).")
]


def billing_text(billing: object, value: Decimal) -> str:
    """One line for ``opp show``'s table: billed and unbilled amounts, and whether they make the value."""
    from opp.core.billing.billables import BillingSummary
    from opp.core.money.amounts import format_money

    assert isinstance(billing, BillingSummary)
    if billing.matches_value is None:
        return "no billable lines"
    text = (
        f"{format_money(billing.total)} {billing.currency} before tax: "
        f"billed {format_money(billing.billed)}, unbilled {format_money(billing.unbilled)}"
    )
    if billing.matches_value:
        return text + " (matches the value)"
    return text + f" (differs from the value {format_money(value)}: see opp edit --value-from-billables)"


def _emit_billables(billables: object, fmt: Format) -> None:
    from opp.core.billing.billables import Billables

    assert isinstance(billables, Billables)
    cur = billables.currency
    totals = [{"subtotal": billables.subtotal, "tax": billables.tax, "total": billables.total}]
    total_columns = [
        Column(f"subtotal {cur}", "subtotal"),
        Column(f"tax {cur}", "tax"),
        Column(f"total {cur}", "total"),
    ]
    emit(
        billables,
        fmt,
        rows=billables.lines,
        columns=LINE_COLUMNS,
        extra_tables=[("totals", totals, total_columns)],
        empty="no billable lines",
    )


@app.command("add")
def bill_add(
    deal_id: IdArg,
    service: Annotated[
        str | None,
        typer.Option(
            "--service", metavar="CODE", help="A catalog service.", autocompletion=complete.complete_service
        ),
    ] = None,
    item: Annotated[str | None, typer.Option("--item", metavar="TEXT", help="A custom item.")] = None,
    price: Annotated[
        str | None, typer.Option("--price", metavar="N", help="Unit price of a custom item.")
    ] = None,
    qty: Annotated[
        str | None, typer.Option("--qty", metavar="N", help="Quantity, e.g. 2 or 1.5 (default 1).")
    ] = None,
    tax: TaxOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add a billable line to a deal, from the catalog or as a custom item."""
    from opp.core.billing import billables

    result = billables.add_billable(
        state.context(), deal_id, service=service, item=item, price=price, quantity=qty, tax=tax
    )
    _emit_billables(result, fmt)


@app.command("list")
def bill_list(deal_id: IdArg, fmt: RecordFormatOpt = Format.table) -> None:
    """List a deal's billable lines with subtotal, tax and total (invoiced lines included)."""
    from opp.core.billing import billables

    _emit_billables(billables.list_billables(state.context(), deal_id), fmt)


@app.command("remove")
def bill_remove(
    deal_id: IdArg,
    line: Annotated[str, typer.Argument(metavar="LINE", help="Line number, see opp bill list.")],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Remove a billable line that is not invoiced."""
    from opp.core.billing import billables

    _emit_billables(billables.remove_billable(state.context(), deal_id, line), fmt)


@app.command("invoice")
def bill_invoice(
    deal_id: IdArg,
    due: Annotated[
        str | None,
        typer.Option(
            "--due", metavar="DATE", help="Due date: +30d, +2w, 2026-04-30 ... (default: invoice_due, +30d)."
        ),
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Invoice a won deal's uninvoiced lines under the next invoice number; those lines are frozen."""
    from opp.cli.invoice import emit_invoice
    from opp.core.billing import invoices

    emit_invoice(invoices.invoice_deal(state.context(), deal_id, due=due), fmt)


CodeArg = Annotated[
    str,
    typer.Argument(
        metavar="CODE", help="Service code, e.g. CONSULT-H.", autocompletion=complete.complete_service
    ),
]


@service_app.command("add")
def service_add(
    code: CodeArg,
    name: Annotated[str, typer.Option("--name", metavar="T", help="What the service is.")],
    price: Annotated[str, typer.Option("--price", metavar="N", help="Unit price.")],
    currency: Annotated[str, typer.Option("--currency", metavar="C", help="Currency of the price.")],
    unit: Annotated[str | None, typer.Option("--unit", metavar="U", help="Unit, e.g. hour or day.")] = None,
    tax: TaxOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add a service to the catalog."""
    from opp.core.billing import catalog

    emit(
        catalog.add_service(
            state.context(), code, name=name, price=price, currency=currency, unit=unit, tax=tax
        ),
        fmt,
    )


@service_app.command("list")
def service_list(
    all_: Annotated[bool, typer.Option("--all", help="Include retired services.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """List the catalog."""
    from opp.core.billing import catalog

    emit(
        catalog.list_services(state.context(), include_retired=all_),
        fmt,
        columns=SERVICE_COLUMNS,
        empty="no services",
    )


@service_app.command("show")
def service_show(code: CodeArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Show one service."""
    from opp.core.billing import catalog

    emit(catalog.get_service(state.context(), code), fmt)


@service_app.command("edit")
def service_edit(
    code: CodeArg,
    name: Annotated[str | None, typer.Option("--name", metavar="T", help="What the service is.")] = None,
    price: Annotated[str | None, typer.Option("--price", metavar="N", help="Unit price.")] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", metavar="C", help="Currency of the price.")
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", metavar="U", help="Unit, e.g. hour or day ('' clears it).")
    ] = None,
    tax: TaxOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Change a service for lines added from now on; lines already on deals keep their figures."""
    from opp.core.billing import catalog

    emit(
        catalog.edit_service(
            state.context(), code, name=name, price=price, currency=currency, unit=unit, tax=tax
        ),
        fmt,
    )


@service_app.command("retire")
def service_retire(code: CodeArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Retire a service: no new lines may use it; existing lines keep it."""
    from opp.core.billing import catalog

    emit(catalog.retire_service(state.context(), code), fmt)
