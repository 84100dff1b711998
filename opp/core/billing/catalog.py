"""The service catalog: what a team sells by the hour or the piece, with its price, currency and tax rate.

A service's price and tax are copied onto a billable line when the line is added (opp.core.billing.billables),
so editing or retiring a service never changes a line already added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from opp.core.context import Context
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import from_minor, normalize_currency, parse_amount, to_minor
from opp.core.records import Record
from opp.core.refs import clean_text
from opp.store import schema

sv = schema.services
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


def decimal_of(text: str, *, what: str, places: int, hint: str) -> Decimal:
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


def parse_tax(text: str) -> int:
    """A tax rate in percent (0-100, up to two decimals, optional %), in hundredths of a percent."""
    rate = decimal_of(text, what="tax", places=2, hint="a percentage such as 25 or 12.5")
    if rate > 100:
        raise Invalid(f"tax must be from 0 to 100 percent, not {text!r}")
    return int(rate * 100)


def trimmed(number: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (10, not 1E+1)."""
    normal = number.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


def _service(row: RowMapping) -> Service:
    return Service(
        code=row["code"],
        name=row["name"],
        price=from_minor(row["price_minor"], row["currency"]),
        currency=row["currency"],
        unit=row["unit"],
        tax_rate=trimmed(Decimal(row["tax_bp"]) / 100),
        retired=row["retired_at"] is not None,
    )


def service_row(conn: Connection, code: str) -> RowMapping:
    row = conn.execute(select(sv).where(func.lower(sv.c.code) == code.strip().lower())).mappings().first()
    if row is None:
        raise NotFound(f"no service {code!r}", reason="no-service")
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
        exists = uow.conn.execute(
            select(sv.c.code, sv.c.retired_at).where(func.lower(sv.c.code) == clean_code.lower())
        ).first()
        if exists is not None:
            retired = " (retired: a retired code is not used again)" if exists.retired_at else ""
            raise Conflict(f"service {exists.code!r} already exists{retired}")
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
        return _service(service_row(uow.conn, clean_code))


def edit_service(
    ctx: Context,
    code: str,
    *,
    name: str | None = None,
    price: str | None = None,
    currency: str | None = None,
    unit: str | None = None,
    tax: str | None = None,
) -> Service:
    """Change a service for the lines added from now on; lines already added keep their figures.

    ``unit=""`` clears the unit. A new currency without a new price keeps the price if the currency can
    hold it (10.50 USD cannot become JPY). A retired service is not edited.
    """
    new_name = (
        clean_text(name, what="service name", max_length=200, required=True) if name is not None else None
    )
    new_tax = parse_tax(tax) if tax is not None else None
    with ctx.unit_of_work("service edit") as uow:
        row = service_row(uow.conn, code)
        if row["retired_at"] is not None:
            raise Conflict(f"service {row['code']} is retired and cannot change")
        values: dict[str, object] = {}
        if new_name is not None:
            values["name"] = new_name
        if unit is not None:
            values["unit"] = clean_text(unit, what="unit", max_length=40)
        if new_tax is not None:
            values["tax_bp"] = new_tax
        cur = normalize_currency(currency) if currency is not None else row["currency"]
        if price is not None:
            values["price_minor"] = to_minor(parse_amount(price, cur), cur)
        elif cur != row["currency"]:
            old_price = from_minor(row["price_minor"], row["currency"])
            try:
                values["price_minor"] = to_minor(old_price.normalize(), cur)
            except Invalid as exc:
                raise Invalid(
                    f"the price {old_price} cannot be expressed in {cur}",
                    hint="give the price as well",
                    reason="price-needed",
                ) from exc
        values["currency"] = cur
        uow.conn.execute(update(sv).where(sv.c.id == row["id"]).values(**values))
        return _service(service_row(uow.conn, code))


def list_services(ctx: Context, *, include_retired: bool = False) -> list[Service]:
    query = select(sv).order_by(sv.c.code)
    if not include_retired:
        query = query.where(sv.c.retired_at.is_(None))
    with ctx.reading() as conn:
        return [_service(row) for row in conn.execute(query).mappings()]


def get_service(ctx: Context, code: str) -> Service:
    with ctx.reading() as conn:
        return _service(service_row(conn, code))


def retire_service(ctx: Context, code: str) -> Service:
    """Retire a service: it can't be added to deals any more; lines that used it keep it."""
    with ctx.unit_of_work("service retire") as uow:
        row = service_row(uow.conn, code)
        if row["retired_at"] is None:
            uow.conn.execute(update(sv).where(sv.c.id == row["id"]).values(retired_at=uow.at))
        return _service(service_row(uow.conn, code))
