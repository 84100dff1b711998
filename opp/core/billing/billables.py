"""A deal's billable lines: what was sold on it, line by line, with amounts fixed when added.

Rounding rule (tested): a line's amount is quantity × unit price rounded half up to the currency's minor
unit; its tax is that amount × the line's tax rate, rounded half up, per line (both by money's one rule,
:func:`opp.core.money.amounts.round_minor`). Subtotal, tax and total
are sums of the rounded lines, so an invoice always adds up line by line. Lines are in the deal's
currency; amounts are fixed when a line is added.

A catalog price in another currency is converted at the rate in force on the day the line is added
(:mod:`opp.core.money.rates` looks it up: the direct pair, else the inverse), the unit price rounded half up
once to the deal currency's minor unit, and then the rule above applies; the line keeps the price it
came from and the rate used. A removed line is kept (marked removed) so that its number is never given
to another line, and history's line numbers always mean one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, case, func, insert, literal, select, update

from opp.core.billing.catalog import decimal_of, parse_tax, service_row, trimmed
from opp.core.context import Context
from opp.core.dates import format_date
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import (
    MAX_MINOR,
    format_money,
    from_minor,
    parse_amount,
    round_minor,
    to_minor,
)
from opp.core.money.currencies import MINOR_UNITS
from opp.core.records import Record
from opp.core.refs import clean_text, parse_id
from opp.store import schema

bl = schema.billables
o = schema.opportunities
MAX_QUANTITY = 10**9


@dataclass(frozen=True)
class LineConversion(Record):
    """Where a converted line's unit price came from: the catalog price, its currency, the rate used."""

    currency: str
    price: Decimal
    pair: str
    rate: Decimal


@dataclass(frozen=True)
class Line(Record):
    line: int
    description: str
    service: str | None
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    amount: Decimal
    tax: Decimal
    invoice: str | None
    conversion: LineConversion | None


@dataclass(frozen=True)
class BillingSummary(Record):
    """A deal's billable amounts before tax: on invoices, not yet invoiced, and whether they make its value.

    ``matches_value`` is None when the deal has no lines (there is nothing to compare).
    """

    currency: str
    lines: int
    billed: Decimal
    unbilled: Decimal
    total: Decimal
    matches_value: bool | None


@dataclass(frozen=True)
class Billables(Record):
    opportunity_id: int
    currency: str
    lines: list[Line]
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def parse_quantity(text: str) -> int:
    """A positive quantity with up to three decimals (hours: 1.5), in thousandths."""
    hint = "a positive number such as 2 or 1.5"
    quantity = decimal_of(text, what="quantity", places=3, hint=hint)
    if quantity <= 0:
        raise Invalid(f"quantity must be more than 0, not {text!r}", hint=hint)
    if quantity > MAX_QUANTITY:
        raise Invalid(f"quantity must be at most {MAX_QUANTITY:,}, not {text!r}", hint=hint)
    return int(quantity * 1000)


def line_amounts(quantity_milli: int, unit_price_minor: int, tax_bp: int) -> tuple[int, int]:
    """(amount, tax) of a line in minor units, each rounded half up (the module's rounding rule)."""
    amount = round_minor(Decimal(quantity_milli) * unit_price_minor / 1000)
    return amount, round_minor(Decimal(amount) * tax_bp / 10000)


def quantity_of(quantity_milli: int) -> Decimal:
    """A stored quantity (thousandths) as the number shown: 1.5, 3, 0.125."""
    return trimmed(Decimal(quantity_milli) / 1000)


def line_of(row: RowMapping) -> Line:
    """A stored billable line as the record the contract shows."""
    currency = row["currency"]
    conversion = None
    if row["source_currency"] is not None:
        conversion = LineConversion(
            currency=row["source_currency"],
            price=from_minor(row["source_price_minor"], row["source_currency"]),
            pair=row["rate_pair"],
            rate=Decimal(row["rate"]),
        )
    return Line(
        line=row["line"],
        description=row["description"],
        service=row["service_code"],
        quantity=quantity_of(row["quantity_milli"]),
        unit_price=from_minor(row["unit_price_minor"], currency),
        tax_rate=trimmed(Decimal(row["tax_bp"]) / 100),
        amount=from_minor(row["amount_minor"], currency),
        tax=from_minor(row["tax_minor"], currency),
        invoice=row["invoice_number"],
        conversion=conversion,
    )


def _deal_row(conn: Connection, deal_id: int) -> RowMapping:
    row = (
        conn.execute(select(o.c.id, o.c.currency, o.c.status, o.c.value_minor).where(o.c.id == deal_id))
        .mappings()
        .first()
    )
    if row is None or row["status"] == "deleted":
        raise NotFound(f"no opportunity {deal_id}", reason="no-deal", details={"deal": deal_id})
    return row


LIVE = bl.c.removed_at.is_(None)
"""The lines that count: every line not removed, invoiced or not."""


def billables_of(conn: Connection, deal_id: int) -> Billables:
    deal = _deal_row(conn, deal_id)
    currency = deal["currency"]
    lines = [
        line_of(row)
        for row in conn.execute(
            select(bl).where(bl.c.opportunity_id == deal_id, LIVE).order_by(bl.c.line)
        ).mappings()
    ]
    subtotal, tax = conn.execute(
        select(
            func.coalesce(func.sum(bl.c.amount_minor), 0), func.coalesce(func.sum(bl.c.tax_minor), 0)
        ).where(bl.c.opportunity_id == deal_id, LIVE)
    ).one()
    return Billables(
        opportunity_id=deal_id,
        currency=currency,
        lines=lines,
        subtotal=from_minor(subtotal, currency),
        tax=from_minor(tax, currency),
        total=from_minor(subtotal + tax, currency),
    )


def list_billables(ctx: Context, deal_id: int | str) -> Billables:
    with ctx.reading() as conn:
        return billables_of(conn, parse_id(deal_id))


def _billed_sums(*where: Any) -> Select[Any]:
    """Line count, and amounts before tax on an invoice and not yet, of the live lines matching ``where``."""
    invoiced = bl.c.invoice_number.is_not(None)
    return select(
        func.count(bl.c.id).label("lines"),
        func.coalesce(func.sum(case((invoiced, bl.c.amount_minor), else_=0)), 0).label("billed"),
        func.coalesce(func.sum(case((invoiced, 0), else_=bl.c.amount_minor)), 0).label("unbilled"),
    ).where(LIVE, *where)


def billing_summary(conn: Connection, deal_id: int) -> BillingSummary:
    """Billed and unbilled amounts (before tax) of a deal, and whether together they make its value."""
    deal = _deal_row(conn, deal_id)
    currency = deal["currency"]
    sums = conn.execute(_billed_sums(bl.c.opportunity_id == deal_id)).one()
    total = sums.billed + sums.unbilled
    return BillingSummary(
        currency=currency,
        lines=sums.lines,
        billed=from_minor(sums.billed, currency),
        unbilled=from_minor(sums.unbilled, currency),
        total=from_minor(total, currency),
        matches_value=None if sums.lines == 0 else total == deal["value_minor"],
    )


def customer_billing(conn: Connection, customer_id: int) -> dict[str, dict[str, Decimal]]:
    """Per currency, the customer's billed and unbilled amounts before tax (``opp customer show``)."""
    rows = conn.execute(
        _billed_sums(and_(o.c.customer_id == customer_id, o.c.status != "deleted"))
        .add_columns(bl.c.currency)
        .select_from(bl.join(o, o.c.id == bl.c.opportunity_id))
        .group_by(bl.c.currency)
    )
    return {
        row.currency: {
            "billed": from_minor(row.billed, row.currency),
            "unbilled": from_minor(row.unbilled, row.currency),
        }
        for row in rows
    }


def value_from_billables(conn: Connection, deal_id: int) -> int:
    """The deal's billables subtotal in minor units, for ``opp edit ID --value-from-billables``."""
    summary = conn.execute(_billed_sums(bl.c.opportunity_id == deal_id)).one()
    if summary.lines == 0:
        raise Conflict(
            f"opportunity {deal_id} has no billable lines to take its value from",
            reason="no-lines",
            details={"deal": deal_id},
        )
    total: int = summary.billed + summary.unbilled
    return total


def has_lines(conn: Connection, deal_id: int) -> bool:
    """Whether the deal has lines (their currency is the deal's, so it cannot change under them)."""
    return (
        conn.execute(select(bl.c.id).where(bl.c.opportunity_id == deal_id, LIVE).limit(1)).first() is not None
    )


@dataclass(frozen=True)
class _Priced:
    """A catalog price in the deal's currency, and where it came from when it was converted."""

    unit_price: int
    source_currency: str | None = None
    source_price: int | None = None
    rate: str | None = None
    pair: str | None = None


def _priced(conn: Connection, service: RowMapping, currency: str, today: date) -> _Priced:
    """The service's price in ``currency``: as is, or converted at the rate in force ``today``.

    The rate is the one :mod:`opp.core.money.rates` looks up for deals (the direct pair, else the inverse),
    and the conversion its exact, half-up SQL (opp.store.dialect), so a line and a forecast agree.
    """
    from opp.core.money.rates import rate_in_force
    from opp.store.dialect import convert_minor

    source = service["currency"]
    if source == currency:
        return _Priced(service["price_minor"])
    direct = rate_in_force(literal(source), literal(currency), literal(today))
    inverse = rate_in_force(literal(currency), literal(source), literal(today))
    shift = literal(MINOR_UNITS[currency] - MINOR_UNITS[source])
    found = conn.execute(
        select(
            direct.label("direct"),
            inverse.label("inverse"),
            convert_minor(conn.dialect.name, literal(service["price_minor"]), direct, inverse, shift).label(
                "converted"
            ),
        )
    ).one()
    if found.converted is None:
        raise Conflict(
            f"no exchange rate from {source} to {currency} in force on {format_date(today)}",
            hint=f"add a rate from {source} to {currency}, or add the line as an item with its own price",
            reason="no-rate-for-line",
            details={"source": source, "currency": currency},
        )
    pair, rate = (
        (f"{source}/{currency}", found.direct)
        if found.direct is not None
        else (
            f"{currency}/{source}",
            found.inverse,
        )
    )
    return _Priced(int(found.converted), source, service["price_minor"], str(rate), pair)


def add_billable(
    ctx: Context,
    deal_id: int | str,
    *,
    service: str | None = None,
    item: str | None = None,
    price: str | None = None,
    quantity: str | None = None,
    tax: str | None = None,
) -> Billables:
    """Add a line from the catalog (``service``) or a custom one (``item`` and ``price``)."""
    wanted = parse_id(deal_id)
    if (service is None) == (item is None):
        raise Invalid("a line comes either from a service or as an item with a price", reason="line-source")
    if service is not None and (price is not None or tax is not None):
        raise Invalid(
            "a price and a tax rate go with an item; a service brings its own", reason="service-brings-price"
        )
    if item is not None and price is None:
        raise Invalid("an item needs a price", reason="item-needs-price")
    quantity_milli = parse_quantity(quantity) if quantity is not None else 1000
    with ctx.unit_of_work("bill add") as uow:
        deal = _deal_row(uow.conn, wanted)
        currency = deal["currency"]
        if deal["status"] == "lost":
            raise Conflict(f"opportunity {wanted} is closed-lost", hint="reopen it to bill it")
        if service is not None:
            row = service_row(uow.conn, service)
            if row["retired_at"] is not None:
                raise Conflict(f"service {row['code']} is retired")
            priced = _priced(uow.conn, row, currency, uow.at.date())
            description, code, tax_bp = row["name"], row["code"], row["tax_bp"]
        else:
            description = clean_text(item, what="item", max_length=500, required=True) or ""
            code = None
            priced = _Priced(to_minor(parse_amount(price or "", currency), currency))
            tax_bp = parse_tax(tax) if tax is not None else 0
        amount, line_tax = line_amounts(quantity_milli, priced.unit_price, tax_bp)
        if priced.unit_price > MAX_MINOR or amount + line_tax > MAX_MINOR:
            raise Invalid(
                f"the line's total {format_money(from_minor(amount + line_tax, currency))} {currency} "
                "is too large",
                hint=f"the largest amount is {format_money(from_minor(MAX_MINOR, currency))} {currency}",
            )
        line_no = (
            uow.conn.execute(
                # Removed lines count too: a line number is never given out twice.
                select(func.coalesce(func.max(bl.c.line), 0)).where(bl.c.opportunity_id == wanted)
            ).scalar_one()
            + 1
        )
        uow.conn.execute(
            insert(bl).values(
                opportunity_id=wanted,
                line=line_no,
                description=description,
                service_code=code,
                quantity_milli=quantity_milli,
                unit_price_minor=priced.unit_price,
                tax_bp=tax_bp,
                amount_minor=amount,
                tax_minor=line_tax,
                currency=currency,
                rate=priced.rate,
                created_at=uow.at,
                source_currency=priced.source_currency,
                source_price_minor=priced.source_price,
                rate_pair=priced.pair,
            )
        )
        added = line_of(
            uow.conn.execute(select(bl).where(bl.c.opportunity_id == wanted, bl.c.line == line_no))
            .mappings()
            .one()
        )
        note = f"added {description}: {added.quantity} × {added.unit_price} = {added.amount} {currency}"
        if added.conversion is not None:
            source = added.conversion
            note += f" ({source.price} {source.currency} at {source.pair} {source.rate})"
        uow.record(wanted, "billable", field="line", new=str(line_no), note=note)
        return billables_of(uow.conn, wanted)


def remove_billable(ctx: Context, deal_id: int | str, line: int | str) -> Billables:
    """Remove a line that is not invoiced yet (invoiced lines are frozen); its number is not reused."""
    wanted = parse_id(deal_id)
    line_no = parse_id(line, what="line")
    with ctx.unit_of_work("bill remove") as uow:
        _deal_row(uow.conn, wanted)
        row = (
            uow.conn.execute(select(bl).where(bl.c.opportunity_id == wanted, bl.c.line == line_no, LIVE))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(
                f"opportunity {wanted} has no line {line_no}", reason="no-line", details={"deal": wanted}
            )
        if row["invoice_number"] is not None:
            raise Conflict(f"line {line_no} is on invoice {row['invoice_number']} and cannot change")
        uow.conn.execute(update(bl).where(bl.c.id == row["id"]).values(removed_at=uow.at))
        uow.record(wanted, "billable", field="line", old=str(line_no), note=f"removed {row['description']}")
        return billables_of(uow.conn, wanted)
