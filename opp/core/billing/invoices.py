"""Invoices: issued from a won deal's uninvoiced lines, numbered without gaps, never changed afterwards.

Numbers follow the ``invoice_pattern`` setting (default ``INV-{year}-{seq:04d}``): ``{year}`` is the
issue year (2026), ``{month}`` the issue month (3; ``{month:02d}`` gives 03) and ``{seq}`` the sequence
number, which takes Python format specs (``{seq:04d}`` pads it to four digits). The sequence restarts
at 1 each year when the pattern has ``{year}``, and otherwise runs on for ever.

The sequence is a counter row bumped in the same transaction that writes the invoice and freezes its
lines, so a failed command leaves no gap and two processes never get the same number: on SQLite the
unit of work holds the write lock from its first statement; on PostgreSQL the UPDATE of the counter row
locks it until commit, so a second invoicer waits for the first and then reads the number after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opp.core import settings
from opp.core.billing.billables import LIVE, Line, line_of
from opp.core.billing.numbering import placeholders, render_number
from opp.core.context import Context
from opp.core.dates import format_date, parse_date, parse_period
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import format_money, from_minor
from opp.core.pipeline.customers import resolve_customer
from opp.core.records import Record
from opp.core.refs import aware, parse_id
from opp.store import schema

iv = schema.invoices
bl = schema.billables
counters = schema.invoice_counters
o = schema.opportunities
cu = schema.customers


@dataclass(frozen=True)
class IssuedTo(Record):
    """The customer an invoice was issued to, as it was then (a customer's keys, without its custom
    fields, which an issued invoice does not keep)."""

    id: int
    kind: str
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class Invoice(Record):
    number: str
    opportunity_id: int
    customer: IssuedTo  # as it was when the invoice was issued
    issued_at: datetime
    currency: str
    lines: list[Line]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    title: str
    issue_date: date
    due_date: date
    issued_by: str
    issuer: str | None


# -- numbering -----------------------------------------------------------------------------------------


def _next_seq(conn: Connection, series: str) -> int:
    """Bump the series' counter in the caller's transaction (which holds it locked until commit)."""
    bump = update(counters).where(counters.c.series == series).values(last=counters.c.last + 1)
    if conn.execute(bump).rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(insert(counters).values(series=series, last=1))
            return 1
        except IntegrityError:  # PostgreSQL: another process started the series meanwhile
            conn.execute(bump)
    last: int = conn.execute(select(counters.c.last).where(counters.c.series == series)).scalar_one()
    return last


def allocate_number(conn: Connection, issued: date) -> str:
    """The next invoice number for an invoice issued on ``issued``, inside the writing transaction."""
    pattern = settings.value_of(conn, "invoice_pattern")
    assert pattern is not None  # the setting has a default
    series = str(issued.year) if any(name == "year" for name, _, _ in placeholders(pattern)) else "all"
    number = render_number(pattern, issued, _next_seq(conn, series))
    if conn.execute(select(iv.c.id).where(iv.c.number == number)).first() is not None:
        raise Conflict(
            f"invoice number {number} is taken: the invoice_pattern repeats an earlier number",
            hint="change the invoice_pattern setting",
            reason="invoice-number-taken",
        )
    return number


# -- issuing and reading -------------------------------------------------------------------------------


def _due_date(conn: Connection, due: str | None, today: date) -> date:
    term = due if due is not None else settings.value_of(conn, "invoice_due")
    assert term is not None  # the setting has a default
    day = parse_date(term, today)
    if day < today:
        raise Invalid(f"the due date {format_date(day)} is before the issue date {format_date(today)}")
    return day


def invoice_deal(ctx: Context, deal_id: int | str, *, due: str | None = None) -> Invoice:
    """Invoice every uninvoiced line of a won deal; the lines are frozen on the invoice from then on."""
    from opp.core.pipeline.deals import lock_deal

    wanted = parse_id(deal_id)
    today = ctx.clock.today()
    if due is not None:
        parse_date(due, today)  # bad input is refused before anything is locked
    with ctx.unit_of_work("bill invoice") as uow:
        conn = uow.conn
        deal = lock_deal(conn, wanted)
        if deal["status"] != "won":
            raise Conflict(
                f"opportunity {wanted} is {deal['stage']}, not won: only won deals are invoiced",
                hint="win it first",
                reason="not-won",
                details={"deal": wanted},
            )
        pending = select(bl.c.id, bl.c.line, bl.c.amount_minor, bl.c.tax_minor).where(
            bl.c.opportunity_id == wanted, bl.c.invoice_number.is_(None), LIVE
        )
        lines = conn.execute(pending.order_by(bl.c.line)).all()
        if not lines:
            raise Conflict(
                f"opportunity {wanted} has nothing left to invoice",
                hint="every line is invoiced already, or there are none",
                reason="nothing-to-invoice",
                details={"deal": wanted},
            )
        issued = uow.at.date()
        due_date = _due_date(conn, due, issued)
        number = allocate_number(conn, issued)
        customer = resolve_customer(conn, str(deal["customer_id"]))
        currency = deal["currency"]
        subtotal = sum(line.amount_minor for line in lines)
        tax = sum(line.tax_minor for line in lines)
        conn.execute(
            insert(iv).values(
                number=number,
                opportunity_id=wanted,
                title=deal["title"],
                customer_id=customer.id,
                customer_kind=customer.kind,
                customer_name=customer.name,
                customer_email=customer.email,
                customer_phone=customer.phone,
                currency=currency,
                subtotal_minor=subtotal,
                tax_minor=tax,
                total_minor=subtotal + tax,
                issued_at=uow.at,
                issue_date=issued,
                due_date=due_date,
                issued_by=uow.actor,
                issuer=settings.value_of(conn, "invoice_issuer"),
            )
        )
        ids = [line.id for line in lines]
        frozen = conn.execute(
            update(bl).where(bl.c.id.in_(ids), bl.c.invoice_number.is_(None)).values(invoice_number=number)
        )
        if frozen.rowcount != len(ids):  # pragma: no cover - the deal row is locked, so lines can't move
            raise Conflict(f"the lines of opportunity {wanted} changed while invoicing", hint="try again")
        total = format_money(from_minor(subtotal + tax, currency))
        uow.record(
            wanted,
            "invoice",
            field="invoice",
            new=number,
            note=f"lines {', '.join(str(line.line) for line in lines)}: {total} {currency}, "
            f"due {format_date(due_date)}",
        )
        return _invoices(conn, select(iv).where(iv.c.number == number))[0]


def _invoice(row: RowMapping, lines: list[Line]) -> Invoice:
    currency = row["currency"]
    return Invoice(
        number=row["number"],
        opportunity_id=row["opportunity_id"],
        customer=IssuedTo(
            id=row["customer_id"],
            kind=row["customer_kind"],
            name=row["customer_name"],
            email=row["customer_email"],
            phone=row["customer_phone"],
        ),
        issued_at=aware(row["issued_at"]),  # type: ignore[arg-type]
        currency=currency,
        lines=lines,
        subtotal=from_minor(row["subtotal_minor"], currency),
        tax=from_minor(row["tax_minor"], currency),
        total=from_minor(row["total_minor"], currency),
        title=row["title"],
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        issued_by=row["issued_by"],
        issuer=row["issuer"],
    )


def _invoices(conn: Connection, query: Select[Any]) -> list[Invoice]:
    """The invoices a query selects, in its order, each with its lines (two queries in all)."""
    rows = conn.execute(query).mappings().all()
    numbers = [row["number"] for row in rows]
    lines: dict[str, list[Line]] = {number: [] for number in numbers}
    if numbers:
        for line in conn.execute(
            select(bl).where(bl.c.invoice_number.in_(numbers)).order_by(bl.c.opportunity_id, bl.c.line)
        ).mappings():
            lines[line["invoice_number"]].append(line_of(line))
    return [_invoice(row, lines[row["number"]]) for row in rows]


def list_invoices(
    ctx: Context,
    *,
    deal_id: int | str | None = None,
    customer: str | None = None,
    period: str | None = None,
) -> list[Invoice]:
    """Invoices in the order they were issued; ``period`` filters on the issue date."""
    query = select(iv).order_by(iv.c.id)
    if deal_id is not None:
        query = query.where(iv.c.opportunity_id == parse_id(deal_id))
    if period is not None:
        chosen = parse_period(period, ctx.clock.today())
        query = query.where(iv.c.issue_date >= chosen.start, iv.c.issue_date <= chosen.end)
    with ctx.reading() as conn:
        if customer is not None:
            query = query.where(iv.c.customer_id == resolve_customer(conn, customer).id)
        return _invoices(conn, query)


def get_invoice(ctx: Context, number: str) -> Invoice:
    """One invoice by number (case-insensitive: inv-2026-0001 finds INV-2026-0001)."""
    wanted = number.strip()
    if not wanted:
        raise Invalid("invoice number must not be empty", reason="no-invoice")
    with ctx.reading() as conn:
        found = _invoices(conn, select(iv).where(func.lower(iv.c.number) == wanted.lower()).order_by(iv.c.id))
    exact = [invoice for invoice in found if invoice.number == wanted]
    if not found:
        raise NotFound(f"no invoice {wanted!r}", reason="no-invoice")
    return (exact or found)[0]
