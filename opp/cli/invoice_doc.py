"""Printable invoices: ``opp invoice show NUMBER --format md|html [--out FILE]``.

Both documents show the same things from the invoice record alone (the core computed every figure):
the number, issue and due dates, the issuer (the ``invoice_issuer`` setting when the invoice was
issued), the customer, the lines, and subtotal, tax and total in the invoice's currency. The HTML is one
self-contained file (inline CSS, no scripts, fonts or images fetched) with a print style for A4 and
Letter; every text that came from a user is escaped.
"""

from __future__ import annotations

from decimal import Decimal

from opp.cli.documents import md as _md
from opp.cli.documents import md_line as _md_line
from opp.core.billing.billables import Line
from opp.core.billing.invoices import Invoice
from opp.core.dates import format_date
from opp.core.money.amounts import format_money


def _money(amount: Decimal) -> str:
    return format_money(amount)


def _customer_lines(invoice: Invoice) -> list[str]:
    customer = invoice.customer
    return [customer.name, *(text for text in (customer.email, customer.phone) if text)]


def _conversions(invoice: Invoice) -> list[str]:
    """A note per converted line: the catalog price and the rate it was converted at."""
    return [
        f"Line {line.line}: {_money(line.conversion.price)} {line.conversion.currency} at "
        f"{line.conversion.pair} {line.conversion.rate} = {_money(line.unit_price)} {invoice.currency}"
        for line in invoice.lines
        if line.conversion is not None
    ]


def _cells(line: Line) -> list[str]:
    return [
        str(line.line),
        line.description,
        line.service or "",
        str(line.quantity),
        _money(line.unit_price),
        str(line.tax_rate),
        _money(line.amount),
        _money(line.tax),
    ]


HEADERS = ["#", "Description", "Service", "Quantity", "Unit price", "Tax %", "Amount", "Tax"]
NUMERIC = {0, 3, 4, 5, 6, 7}


# -- Markdown ------------------------------------------------------------------------------------------


def markdown(invoice: Invoice) -> str:
    cur = invoice.currency
    out = [
        f"# Invoice {_md(invoice.number)}",
        "",
        f"**Issued** {format_date(invoice.issue_date)} · **Due** {format_date(invoice.due_date)} · "
        f"**Opportunity** {invoice.opportunity_id}: {_md(invoice.title)}",
        "",
    ]
    if invoice.issuer:
        out += [
            "**From**  ",
            *(_md_line(part) + "  " for part in invoice.issuer.splitlines() if part.strip()),
            "",
        ]
    out += ["**Bill to**  ", *(_md_line(part) + "  " for part in _customer_lines(invoice)), ""]
    out.append("| " + " | ".join(HEADERS) + " |")
    out.append("|" + "|".join("--:" if i in NUMERIC else ":--" for i in range(len(HEADERS))) + "|")
    out += ["| " + " | ".join(_md(cell) for cell in _cells(line)) + " |" for line in invoice.lines]
    out += [
        "",
        f"| | {cur} |",
        "|:--|--:|",
        f"| Subtotal | {_money(invoice.subtotal)} |",
        f"| Tax | {_money(invoice.tax)} |",
        f"| **Total** | **{_money(invoice.total)}** |",
    ]
    notes = _conversions(invoice)
    if notes:
        out += ["", "Converted at the rate in force when the line was added:", ""]
        out += [f"- {_md(note)}" for note in notes]
    return "\n".join(out) + "\n"


# -- HTML ----------------------------------------------------------------------------------------------


def html_document(invoice: Invoice) -> str:
    """The invoice as one self-contained HTML page (the ``invoice.html.j2`` template, autoescaped)."""
    from opp.cli.documents import render

    return render(
        "invoice.html.j2",
        invoice=invoice,
        headers=HEADERS,
        numeric=NUMERIC,
        rows=[_cells(line) for line in invoice.lines],
        customer="\n".join(_customer_lines(invoice)),
        notes=_conversions(invoice),
    )


def render_document(invoice: Invoice, kind: str) -> str:
    """The invoice as ``md`` or ``html`` text."""
    return markdown(invoice) if kind == "md" else html_document(invoice)


def write_document(invoice: Invoice, kind: str, out: str | None, *, force: bool = False) -> None:
    """Write the document to ``out`` (a new file, or an existing one with ``force``; see
    :mod:`opp.core.files`), or to stdout when no file is given."""
    from opp.cli.documents import write_out

    write_out(render_document(invoice, kind), out, force=force, what=f"invoice {invoice.number}")
