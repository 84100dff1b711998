"""The service catalog and a deal's billable lines.

Rounding rule (tested): a line's amount is quantity × unit price rounded half up to the currency's minor
unit; its tax is that amount × the line's tax rate, rounded half up, per line. Subtotal, tax and total
are sums of the rounded lines, so an invoice always adds up line by line. Lines are in the deal's
currency; amounts are fixed when a line is added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from opp.core.context import Context
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money import from_minor, normalize_currency, parse_amount, to_minor
from opp.core.records import Record
from opp.core.refs import clean_text, parse_id
from opp.store import schema

sv = schema.services
bl = schema.billables
o = schema.opportunities
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_DECIMAL = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class Service(Record):
    code: str
    name: str
    price: Decimal
    currency: str
    unit: str | None
    tax_rate: Decimal
    retired: bool


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


@dataclass(frozen=True)
class Billables(Record):
    opportunity_id: int
    currency: str
    lines: list[Line]
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def _decimal(text: str, *, what: str, places: int, hint: str) -> Decimal:
    cleaned = text.strip().rstrip("%").strip() if what == "tax" else text.strip()
    if not _DECIMAL.match(cleaned):
        raise Invalid(f"{what} must be a non-negative number, not {text!r}", hint=hint)
    try:
        number = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
        raise Invalid(f"{what} must be a number, not {text!r}", hint=hint) from exc
    if len(cleaned.partition(".")[2].rstrip("0")) > places:
        raise Invalid(f"{what} {text!r} has more than {places} decimals", hint=hint)
    return number


def parse_quantity(text: str) -> int:
    """A positive quantity with up to three decimals (hours: 1.5), in thousandths."""
    quantity = _decimal(text, what="quantity", places=3, hint="a positive number such as 2 or 1.5")
    if quantity <= 0 or quantity > 10**9:
        raise Invalid(
            f"quantity must be more than 0, not {text!r}", hint="a positive number such as 2 or 1.5"
        )
    return int(quantity * 1000)


def parse_tax(text: str) -> int:
    """A tax rate in percent (0-100, up to two decimals, optional %), in hundredths of a percent."""
    rate = _decimal(text, what="tax", places=2, hint="a percentage such as 25 or 12.5")
    if rate > 100:
        raise Invalid(f"tax must be from 0 to 100 percent, not {text!r}")
    return int(rate * 100)


def line_amounts(quantity_milli: int, unit_price_minor: int, tax_bp: int) -> tuple[int, int]:
    """(amount, tax) of a line in minor units, each rounded half up (the module's rounding rule)."""
    amount = (Decimal(quantity_milli) * unit_price_minor / 1000).quantize(Decimal(1), ROUND_HALF_UP)
    tax = (amount * tax_bp / 10000).quantize(Decimal(1), ROUND_HALF_UP)
    return int(amount), int(tax)


def _service(row: RowMapping) -> Service:
    return Service(
        code=row["code"],
        name=row["name"],
        price=from_minor(row["price_minor"], row["currency"]),
        currency=row["currency"],
        unit=row["unit"],
        tax_rate=_trimmed(Decimal(row["tax_bp"]) / 100),
        retired=row["retired_at"] is not None,
    )


def _service_row(conn: Connection, code: str) -> RowMapping:
    row = conn.execute(select(sv).where(func.lower(sv.c.code) == code.strip().lower())).mappings().first()
    if row is None:
        raise NotFound(f"no service {code!r}", hint="see opp service list")
    return row


def add_service(
    ctx: Context,
    code: str,
    *,
    name: str,
    price: str,
    currency: str,
    unit: str | None = None,
    tax: str | None = None,
) -> Service:
    clean_code = code.strip()
    if not _CODE.match(clean_code):
        raise Invalid(
            f"invalid service code {code!r}", hint="letters, digits, '.', '_' or '-', such as CONSULT-H"
        )
    clean_name = clean_text(name, what="service name", max_length=200, required=True)
    cur = normalize_currency(currency)
    price_minor = to_minor(parse_amount(price, cur), cur)
    tax_bp = parse_tax(tax) if tax is not None else 0
    with ctx.unit_of_work("service add") as uow:
        exists = uow.conn.execute(select(sv.c.id).where(func.lower(sv.c.code) == clean_code.lower())).scalar()
        if exists is not None:
            raise Conflict(f"service {clean_code!r} already exists")
        uow.conn.execute(
            insert(sv).values(
                code=clean_code,
                name=clean_name,
                price_minor=price_minor,
                currency=cur,
                unit=clean_text(unit, what="unit", max_length=40),
                tax_bp=tax_bp,
                created_at=uow.at,
            )
        )
        return _service(_service_row(uow.conn, clean_code))


def list_services(ctx: Context, *, include_retired: bool = False) -> list[Service]:
    query = select(sv).order_by(sv.c.code)
    if not include_retired:
        query = query.where(sv.c.retired_at.is_(None))
    with ctx.reading() as conn:
        return [_service(row) for row in conn.execute(query).mappings()]


def get_service(ctx: Context, code: str) -> Service:
    with ctx.reading() as conn:
        return _service(_service_row(conn, code))


def retire_service(ctx: Context, code: str) -> Service:
    """Retire a service: it can't be added to deals any more; lines that used it keep it."""
    with ctx.unit_of_work("service retire") as uow:
        row = _service_row(uow.conn, code)
        if row["retired_at"] is None:
            uow.conn.execute(update(sv).where(sv.c.id == row["id"]).values(retired_at=uow.at))
        return _service(_service_row(uow.conn, code))


def _trimmed(number: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (10, not 1E+1)."""
    normal = number.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


def _line(row: RowMapping) -> Line:
    currency = row["currency"]
    return Line(
        line=row["line"],
        description=row["description"],
        service=row["service_code"],
        quantity=_trimmed(Decimal(row["quantity_milli"]) / 1000),
        unit_price=from_minor(row["unit_price_minor"], currency),
        tax_rate=_trimmed(Decimal(row["tax_bp"]) / 100),
        amount=from_minor(row["amount_minor"], currency),
        tax=from_minor(row["tax_minor"], currency),
        invoice=row["invoice_number"],
    )


def _deal_row(conn: Connection, deal_id: int) -> RowMapping:
    row = conn.execute(select(o.c.id, o.c.currency, o.c.status).where(o.c.id == deal_id)).mappings().first()
    if row is None:
        raise NotFound(f"no opportunity {deal_id}", hint="see opp list --status all")
    return row


def billables_of(conn: Connection, deal_id: int) -> Billables:
    deal = _deal_row(conn, deal_id)
    currency = deal["currency"]
    lines = [
        _line(row)
        for row in conn.execute(
            select(bl).where(bl.c.opportunity_id == deal_id).order_by(bl.c.line)
        ).mappings()
    ]
    subtotal, tax = conn.execute(
        select(
            func.coalesce(func.sum(bl.c.amount_minor), 0), func.coalesce(func.sum(bl.c.tax_minor), 0)
        ).where(bl.c.opportunity_id == deal_id)
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
        raise Invalid("give either --service CODE or --item TEXT --price N")
    if service is not None and (price is not None or tax is not None):
        raise Invalid("--price and --tax go with --item; a service brings its own")
    if item is not None and price is None:
        raise Invalid("--item needs --price", hint="for example --item Workshop --price 500")
    quantity_milli = parse_quantity(quantity) if quantity is not None else 1000
    with ctx.unit_of_work("bill add") as uow:
        deal = _deal_row(uow.conn, wanted)
        currency = deal["currency"]
        if deal["status"] == "lost":
            raise Conflict(f"opportunity {wanted} is closed-lost", hint="reopen it to bill it")
        if service is not None:
            row = _service_row(uow.conn, service)
            if row["retired_at"] is not None:
                raise Conflict(f"service {row['code']} is retired")
            if row["currency"] != currency:
                raise Conflict(
                    f"no exchange rate from {row['currency']} to {currency}",
                    hint="add it as --item with a price in the deal's currency",
                )
            description, code, unit_price, tax_bp = (
                row["name"],
                row["code"],
                row["price_minor"],
                row["tax_bp"],
            )
        else:
            description = clean_text(item, what="item", max_length=500, required=True) or ""
            code = None
            unit_price = to_minor(parse_amount(price or "", currency), currency)
            tax_bp = parse_tax(tax) if tax is not None else 0
        amount, line_tax = line_amounts(quantity_milli, unit_price, tax_bp)
        line_no = (
            uow.conn.execute(
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
                unit_price_minor=unit_price,
                tax_bp=tax_bp,
                amount_minor=amount,
                tax_minor=line_tax,
                currency=currency,
                created_at=uow.at,
            )
        )
        added = _line(
            uow.conn.execute(select(bl).where(bl.c.opportunity_id == wanted, bl.c.line == line_no))
            .mappings()
            .one()
        )
        uow.record(
            wanted,
            "billable",
            field="line",
            new=str(line_no),
            note=f"added {description}: {added.quantity} × {added.unit_price} = {added.amount} {currency}",
        )
        return billables_of(uow.conn, wanted)


def remove_billable(ctx: Context, deal_id: int | str, line: int | str) -> Billables:
    """Remove a line that is not invoiced yet (invoiced lines are frozen)."""
    wanted = parse_id(deal_id)
    line_no = parse_id(line, what="line")
    with ctx.unit_of_work("bill remove") as uow:
        _deal_row(uow.conn, wanted)
        row = (
            uow.conn.execute(select(bl).where(bl.c.opportunity_id == wanted, bl.c.line == line_no))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"opportunity {wanted} has no line {line_no}", hint=f"see opp bill list {wanted}")
        if row["invoice_number"] is not None:
            raise Conflict(f"line {line_no} is on invoice {row['invoice_number']} and cannot change")
        uow.conn.execute(delete(bl).where(bl.c.id == row["id"]))
        uow.record(wanted, "billable", field="line", old=str(line_no), note=f"removed {row['description']}")
        return billables_of(uow.conn, wanted)
