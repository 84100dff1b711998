"""Customers: the organization or individual each deal is for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, case, func, insert, select

from opp.core.context import Context
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import from_minor
from opp.core.money.figures import forecast_minor_expr
from opp.core.records import Customer, Opportunity, Record
from opp.core.refs import MAX_ID, clean_email, clean_text
from opp.store import schema

KINDS = ("organization", "individual")
STATUSES = ("open", "won", "lost")
c = schema.customers


@dataclass(frozen=True)
class CurrencyTotals(Record):
    currency: str
    open_value: Decimal
    open_forecast: Decimal
    won_value: Decimal
    lost_value: Decimal


@dataclass(frozen=True)
class CustomerDetail(Record):
    """A customer with all its deals and their totals (``opp customer show``)."""

    id: int
    kind: str
    name: str
    email: str | None
    phone: str | None
    fields: dict[str, Any]
    opportunities: list[Opportunity]
    totals: dict[str, Any]


def _customer(row: RowMapping, fields: dict[str, Any] | None = None) -> Customer:
    return Customer(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        fields={} if fields is None else fields,
    )


def check_kind(kind: str) -> str:
    lowered = kind.strip().lower()
    aliases = {"org": "organization", "person": "individual"}
    lowered = aliases.get(lowered, lowered)
    if lowered not in KINDS:
        raise Invalid(f"unknown customer kind {kind!r}", hint="use organization or individual")
    return KINDS[KINDS.index(lowered)]  # the one string, not a copy per call (imports keep many)


def add_customer(
    ctx: Context,
    kind: str,
    name: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    set_fields: Iterable[str] = (),
) -> Customer:
    """Add a customer; ``set_fields`` are its custom field values, ``NAME=VALUE`` (opp.core.fields)."""
    from opp.core import fields as custom

    assignments = custom.parse_assignments(set_fields)
    kind = check_kind(kind)
    clean_name = clean_text(name, what="customer name", max_length=300, required=True)
    assert clean_name is not None
    email = clean_email(email)
    phone = clean_text(phone, what="phone", max_length=64)
    with ctx.unit_of_work("customer add") as uow:
        new_id = insert_customer(uow.conn, kind, clean_name, email=email, phone=phone, at=uow.at)
        custom.write_values(uow.conn, "customer", new_id, assignments, ctx.clock.today())
        values = custom.values_of(uow.conn, "customer", [new_id])[new_id]
    return Customer(id=new_id, kind=kind, name=clean_name, email=email, phone=phone, fields=values)


def insert_customer(
    conn: Connection, kind: str, name: str, *, email: str | None, phone: str | None, at: Any
) -> int:
    """Insert a customer inside the caller's transaction; the same kind and name twice is a conflict."""
    existing = conn.execute(select(c.c.id).where(c.c.kind == kind, c.c.name == name)).scalar()
    if existing is not None:
        raise Conflict(
            f"{kind} {name!r} already exists as customer {existing}",
            hint=f"refer to it by name or as id {existing}",
        )
    result = conn.execute(insert(c), customer_row(kind, name, email=email, phone=phone, at=at))
    new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
    return new_id


def customer_row(kind: str, name: str, *, email: str | None, phone: str | None, at: Any) -> dict[str, Any]:
    """A new customer's row, for a caller that has checked that no customer has this kind and name."""
    return {"kind": kind, "name": name, "email": email, "phone": phone, "created_at": at}


def list_customers(ctx: Context, *, kind: str | None = None, search: str | None = None) -> list[Customer]:
    query = select(c).order_by(c.c.id)
    if kind is not None:
        query = query.where(c.c.kind == check_kind(kind))
    with ctx.reading() as conn:
        if search:
            from opp.store.search import customers_containing

            query = query.where(customers_containing(conn, search.lower()))
        from opp.core.fields import values_of

        rows = list(conn.execute(query).mappings())
        values = values_of(conn, "customer", [row["id"] for row in rows])
        return [_customer(row, values[row["id"]]) for row in rows]


def resolve_customer(conn: Connection, ref: str, *, kind: str | None = None) -> Customer:
    """A customer by id or exact name, optionally of one kind; ambiguity and mismatch are explained."""
    text = ref.strip()
    if not text:
        raise Invalid("customer reference must not be empty", hint="give a customer id or exact name")
    row = None
    if text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID)) and int(text) <= MAX_ID:
        row = conn.execute(select(c).where(c.c.id == int(text))).mappings().first()
    if row is None:
        rows = conn.execute(select(c).where(c.c.name == text).order_by(c.c.id).limit(2)).mappings().all()
        if kind is not None and any(found["kind"] == kind for found in rows):
            # The name may also belong to a customer of the other kind: the one asked for wins.
            rows = [found for found in rows if found["kind"] == kind]
        if len(rows) > 1:
            raise Invalid(
                f"customer name {text!r} matches an organization and an individual",
                # the id works wherever a customer is named; --org/--person only where a deal gets one
                hint="give the customer id instead: "
                + " or ".join(f"{found['id']} (the {found['kind']})" for found in rows),
            )
        row = rows[0] if rows else None
    if row is None:
        flag = "--person" if kind == "individual" else "--org"
        raise NotFound(
            f"no customer {text!r}",
            hint=f"see opp customer list, or add it with opp customer add {flag} NAME",
        )
    customer = _customer(row)
    if kind is not None and customer.kind != kind:
        other = "--person" if customer.kind == "individual" else "--org"
        raise Invalid(f"customer {customer.id} ({customer.name}) is an {customer.kind}", hint=f"use {other}")
    return customer


def show_customer(ctx: Context, ref: str) -> CustomerDetail:
    """The customer, its deals, and per currency their totals with ``billed`` and ``unbilled`` amounts
    (billable lines before tax, on an invoice or not yet; see opp.core.billing.billables)."""
    from opp.core.billing.billables import customer_billing
    from opp.core.pipeline.deals import DealFilter, query_deals

    o = schema.opportunities
    with ctx.reading() as conn:
        customer = resolve_customer(conn, ref)
        deals = query_deals(conn, DealFilter(status="all", customer_id=customer.id))
        forecast = forecast_minor_expr(o.c.value_minor, o.c.probability)
        by_currency = conn.execute(
            select(
                o.c.currency,
                *(func.sum(case((o.c.status == status, 1), else_=0)) for status in STATUSES),
                func.sum(case((o.c.status == "open", o.c.value_minor), else_=0)),
                func.sum(case((o.c.status == "open", forecast), else_=0)),
                func.sum(case((o.c.status == "won", o.c.value_minor), else_=0)),
                func.sum(case((o.c.status == "lost", o.c.value_minor), else_=0)),
            )
            .where(o.c.customer_id == customer.id)
            .group_by(o.c.currency)
            .order_by(o.c.currency)
        ).all()
        billing = customer_billing(conn, customer.id)
        from opp.core.fields import values_of

        fields = values_of(conn, "customer", [customer.id])[customer.id]
    counts = {status: sum(row[1 + i] for row in by_currency) for i, status in enumerate(STATUSES)}
    totals: dict[str, Any] = {
        "count": sum(counts.values()),
        **counts,
        "by_currency": [
            {
                **CurrencyTotals(
                    currency=cur,
                    open_value=from_minor(open_v, cur),
                    open_forecast=from_minor(open_f, cur),
                    won_value=from_minor(won_v, cur),
                    lost_value=from_minor(lost_v, cur),
                ).as_dict(),
                **billing.get(cur, {"billed": from_minor(0, cur), "unbilled": from_minor(0, cur)}),
            }
            for cur, *_counts, open_v, open_f, won_v, lost_v in by_currency
        ],
    }
    return CustomerDetail(
        id=customer.id,
        kind=customer.kind,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        fields=fields,
        opportunities=deals,
        totals=totals,
    )
