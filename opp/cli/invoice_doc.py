"""Printable invoices: ``opp invoice show NUMBER --format md|html [--out FILE]``.

Both documents show the same things from the invoice record alone (the core computed every figure):
the number, issue and due dates, the issuer (the ``invoice_issuer`` setting when the invoice was
issued), the customer, the lines, and subtotal, tax and total in the invoice's currency. The HTML is one
self-contained file (inline CSS, no scripts, fonts or images fetched) with a print style for A4 and
Letter; every text that came from a user is escaped.
"""

from __future__ import annotations

import html
import re
import sys
from decimal import Decimal

from opp.cli.render import PipeClosed, message
from opp.core.billing.billables import Line
from opp.core.billing.invoices import Invoice
from opp.core.dates import format_date
from opp.core.money.amounts import format_money

_MD_SPECIAL = str.maketrans({char: "\\" + char for char in "\\`*_[]<>|#~&"})
# What Markdown reads as a heading underline, a rule, a list item or a quote when it starts a line.
_MD_LINE_START = re.compile(r"^([=+-]|\d+(?=[.)]))")


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


def _md(text: str) -> str:
    """Text safe inside Markdown (and a table cell): special characters escaped, one line."""
    return " ".join(text.split()).translate(_MD_SPECIAL)


def _md_line(text: str) -> str:
    """Text shown as a line of its own, as it was typed: also what means something at the start of a
    line is escaped (a customer called ``===`` would otherwise underline the line before it into a
    heading, and vanish)."""
    return _MD_LINE_START.sub(_escape_line_start, _md(text))


def _escape_line_start(found: re.Match[str]) -> str:
    start = found.group(0)
    return start + "\\" if start[0].isdigit() else "\\" + start  # 1\. as in "1. item"; \= \- \+


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

_CSS = """
body { font: 11pt/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #111; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
.meta { color: #444; margin: 0 0 1.5rem; }
.parties { display: flex; gap: 3rem; margin-bottom: 1.5rem; }
.parties h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: #666; margin: 0; }
.parties p { margin: .25rem 0 0; white-space: pre-line; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
th { font-size: .85rem; color: #444; border-bottom: 2px solid #111; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.totals { width: auto; margin: 1rem 0 0 auto; }
table.totals tr.total td { font-weight: bold; border-top: 2px solid #111; border-bottom: none; }
.notes { color: #444; font-size: .9rem; margin-top: 1.5rem; }
@page { size: A4; margin: 18mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 10pt; }
  tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def html_document(invoice: Invoice) -> str:
    cur = _h(invoice.currency)
    number = _h(invoice.number)
    head = "".join(
        f'<th class="num">{_h(title)}</th>' if i in NUMERIC else f"<th>{_h(title)}</th>"
        for i, title in enumerate(HEADERS)
    )
    rows = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_h(cell)}</td>' if i in NUMERIC else f"<td>{_h(cell)}</td>"
            for i, cell in enumerate(_cells(line))
        )
        + "</tr>"
        for line in invoice.lines
    )
    issuer = f"<div><h2>From</h2><p>{_h(invoice.issuer.strip())}</p></div>" if invoice.issuer else ""
    customer = _h("\n".join(_customer_lines(invoice)))
    notes = _conversions(invoice)
    notes_html = (
        '<div class="notes"><p>Converted at the rate in force when the line was added:</p><ul>'
        + "".join(f"<li>{_h(note)}</li>" for note in notes)
        + "</ul></div>"
        if notes
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Invoice {number}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Invoice {number}</h1>
<p class="meta">Issued {format_date(invoice.issue_date)} · Due {format_date(invoice.due_date)} ·
Opportunity {invoice.opportunity_id}: {_h(invoice.title)}</p>
<div class="parties">{issuer}<div><h2>Bill to</h2><p>{customer}</p></div></div>
<table class="lines">
<thead><tr>{head}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<table class="totals">
<tr><td>Subtotal</td><td class="num">{_money(invoice.subtotal)} {cur}</td></tr>
<tr><td>Tax</td><td class="num">{_money(invoice.tax)} {cur}</td></tr>
<tr class="total"><td>Total</td><td class="num">{_money(invoice.total)} {cur}</td></tr>
</table>
{notes_html}
</body>
</html>
"""


def render_document(invoice: Invoice, kind: str) -> str:
    """The invoice as ``md`` or ``html`` text."""
    return markdown(invoice) if kind == "md" else html_document(invoice)


def write_document(invoice: Invoice, kind: str, out: str | None, *, force: bool = False) -> None:
    """Write the document to ``out`` (a new file, or an existing one with ``force``; see
    :mod:`opp.core.files`), or to stdout when no file is given."""
    text = render_document(invoice, kind)
    if out is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError as exc:
            raise PipeClosed from exc
        return
    from opp.core.files import write_text_file

    path = write_text_file(out, text, force=force)
    message(f"wrote invoice {invoice.number} to {path}")
