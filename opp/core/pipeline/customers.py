"""Customers: the organization or individual each deal is for, and the people at organizations.

An individual may work for an organization (its ``employer``, always an organization) under a job
title; ``customer show`` of an organization lists its people. ``customer add`` is a ``created`` event of
its ``customer_history`` and ``customer edit`` changes any of a customer's fields, each changed field an
event of its command (the custom fields one ``fields`` event, opp.core.fields), so ``opp undo`` takes
either back (see :func:`revert_customer_events`), like the changes to deals in deal history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, case, delete, func, insert, select, update

from opp.core.context import Context, UnitOfWork
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import from_minor
from opp.core.money.figures import forecast_minor_expr
from opp.core.records import Customer, EmployerRef, Opportunity, Record
from opp.core.refs import MAX_ID, clean_email, clean_text
from opp.store import schema

KINDS = ("organization", "individual")
STATUSES = ("open", "won", "lost")
NAME_LENGTH = 300
JOB_TITLE_LENGTH = 200
#: The fields ``customer edit`` changes, as customer history names them.
EDITABLE = ("name", "email", "phone", "employer", "job_title")
c = schema.customers
ch = schema.customer_history
employers = c.alias("employers")


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
    employer: EmployerRef | None
    job_title: str | None
    fields: dict[str, Any]
    #: An organization's people (the individuals it employs); None for an individual.
    people: list[Customer] | None
    opportunities: list[Opportunity]
    totals: dict[str, Any]


def customer_select() -> Select[Any]:
    """Customers with the name of each one's employer (a customer's record reads both)."""
    return select(c, employers.c.name.label("employer_name")).outerjoin(
        employers, employers.c.id == c.c.employer_id
    )


def _customer(row: RowMapping, fields: dict[str, Any] | None = None) -> Customer:
    employer_id = row["employer_id"]
    return Customer(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        employer=None if employer_id is None else EmployerRef(id=employer_id, name=row["employer_name"]),
        job_title=row["job_title"],
        fields={} if fields is None else fields,
    )


def read_customer(conn: Connection, customer_id: int) -> Customer:
    """The customer with this id (which the caller knows exists), with its custom field values."""
    from opp.core.fields import values_of

    row = conn.execute(customer_select().where(c.c.id == customer_id)).mappings().one()
    return _customer(row, values_of(conn, "customer", [customer_id])[customer_id])


def clean_name(text: str | None) -> str:
    name = clean_text(text, what="customer name", max_length=NAME_LENGTH, required=True)
    assert name is not None  # required=True
    return name


def clean_job_title(text: str | None) -> str | None:
    return clean_text(text, what="job title", max_length=JOB_TITLE_LENGTH)


def resolve_employer(conn: Connection, ref: str) -> Customer:
    """The organization named as someone's employer; an individual is invalid input."""
    employer = resolve_customer(conn, ref, kind="organization", strict=False)
    if employer.kind != "organization":
        raise Invalid(
            f"customer {employer.id} ({employer.name}) is an individual; an employer must be an organization",
            hint="name an organization",
            reason="employer-not-organization",
        )
    return employer


def _check_person_fields(kind: str, *, employed: bool, job_title: str | None) -> None:
    """Only an individual works for an organization, under a job title."""
    if kind != "individual" and (employed or job_title is not None):
        raise Invalid(
            "only an individual has an employer and a job title",
            hint="give them to a person",
            reason="person-fields",
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
    employer: str | None = None,
    job_title: str | None = None,
    set_fields: Iterable[str] = (),
) -> Customer:
    """Add a customer; an individual may name the organization they work for and their job title;
    ``set_fields`` are its custom field values, ``NAME=VALUE`` (opp.core.fields)."""
    from opp.core import fields as custom

    assignments = custom.parse_assignments(set_fields)
    kind = check_kind(kind)
    name = clean_name(name)
    email = clean_email(email)
    phone = clean_phone(phone)
    job_title = clean_job_title(job_title)
    with ctx.unit_of_work("customer add") as uow:
        works_for = resolve_employer(uow.conn, employer) if employer is not None else None
        _check_person_fields(kind, employed=works_for is not None, job_title=job_title)
        new_id = insert_customer(
            uow.conn,
            kind,
            name,
            email=email,
            phone=phone,
            at=uow.at,
            employer_id=None if works_for is None else works_for.id,
            job_title=job_title,
        )
        record_customer_event(uow, new_id, "created", new=name)
        changes = custom.write_values(uow.conn, "customer", new_id, assignments, ctx.clock.today())
        custom.record_customer_changes(uow, new_id, changes)
        return read_customer(uow.conn, new_id)


def clean_phone(text: str | None) -> str | None:
    return clean_text(text, what="phone", max_length=64)


def insert_customer(
    conn: Connection,
    kind: str,
    name: str,
    *,
    email: str | None,
    phone: str | None,
    at: Any,
    employer_id: int | None = None,
    job_title: str | None = None,
) -> int:
    """Insert a customer inside the caller's transaction; the same kind and name twice is a conflict."""
    _refuse_taken_name(conn, kind, name)
    row = customer_row(kind, name, email=email, phone=phone, at=at)
    if employer_id is not None or job_title is not None:
        row.update(employer_id=employer_id, job_title=job_title)
    result = conn.execute(insert(c), row)
    new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
    return new_id


def _refuse_taken_name(conn: Connection, kind: str, name: str, customer_id: int | None = None) -> None:
    existing = conn.execute(
        select(c.c.id).where(c.c.kind == kind, c.c.name == name, c.c.id != (customer_id or 0))
    ).scalar()
    if existing is not None:
        raise Conflict(
            f"{kind} {name!r} already exists as customer {existing}",
            hint=f"refer to it by name or as id {existing}",
        )


def customer_row(kind: str, name: str, *, email: str | None, phone: str | None, at: Any) -> dict[str, Any]:
    """A new customer's row, for a caller that has checked that no customer has this kind and name."""
    return {"kind": kind, "name": name, "email": email, "phone": phone, "created_at": at}


def list_customers(
    ctx: Context, *, kind: str | None = None, search: str | None = None, employer: str | None = None
) -> list[Customer]:
    """Customers in id order: of one kind, whose name contains ``search``, working for ``employer``."""
    query = customer_select().order_by(c.c.id)
    if kind is not None:
        query = query.where(c.c.kind == check_kind(kind))
    with ctx.reading() as conn:
        if employer is not None:
            query = query.where(c.c.employer_id == resolve_employer(conn, employer).id)
        if search:
            from opp.store.search import customers_containing

            query = query.where(customers_containing(conn, search.lower()))
        from opp.core.fields import values_of

        rows = list(conn.execute(query).mappings())
        values = values_of(conn, "customer", [row["id"] for row in rows])
        return [_customer(row, values[row["id"]]) for row in rows]


def resolve_customer(conn: Connection, ref: str, *, kind: str | None = None, strict: bool = True) -> Customer:
    """A customer by id or exact name, optionally of one kind; ambiguity and mismatch are explained.

    ``kind`` prefers that kind where a name is both an organization and an individual; unless
    ``strict`` is false, a customer of the other kind is refused, worded for ``--org``/``--person``
    (callers that say what they need in their own words pass ``strict=False`` and check the kind)."""
    text = ref.strip()
    if not text:
        raise Invalid("customer reference must not be empty", hint="give a customer id or exact name")
    row = None
    if text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID)) and int(text) <= MAX_ID:
        row = conn.execute(customer_select().where(c.c.id == int(text))).mappings().first()
    if row is None:
        rows = (
            conn.execute(customer_select().where(c.c.name == text).order_by(c.c.id).limit(2)).mappings().all()
        )
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
        raise NotFound(
            f"no customer {text!r}",
            hint="add the customer first",
            reason="no-customer",
            details={"kind": kind or "organization"},
        )
    customer = _customer(row)
    if strict and kind is not None and customer.kind != kind:
        raise Invalid(
            f"customer {customer.id} ({customer.name}) is an {customer.kind}",
            hint=f"name it as an {customer.kind}",
            reason="customer-kind",
            details={"kind": customer.kind},
        )
    return customer


def show_customer(ctx: Context, ref: str) -> CustomerDetail:
    """The customer, its deals, and per currency their totals with ``billed`` and ``unbilled`` amounts
    (billable lines before tax, on an invoice or not yet; see opp.core.billing.billables)."""
    from opp.core.billing.billables import customer_billing
    from opp.core.pipeline.deals import DealFilter, query_deals

    o = schema.opportunities
    with ctx.reading() as conn:
        customer = resolve_customer(conn, ref)
        _refuse_too_large_totals(conn, customer)
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
            .where(o.c.customer_id == customer.id, o.c.status != "deleted")
            .group_by(o.c.currency)
            .order_by(o.c.currency)
        ).all()
        billing = customer_billing(conn, customer.id)
        people = None
        if customer.kind == "organization":
            people = [
                _customer(found)
                for found in conn.execute(
                    customer_select().where(c.c.employer_id == customer.id).order_by(c.c.name, c.c.id)
                ).mappings()
            ]
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
        employer=customer.employer,
        job_title=customer.job_title,
        people=people,
        fields=fields,
        opportunities=deals,
        totals=totals,
    )


# -- editing -------------------------------------------------------------------------------------------


def edit_customer(
    ctx: Context,
    ref: str,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    employer: str | None = None,
    job_title: str | None = None,
    set_fields: Iterable[str] = (),
) -> Customer:
    """Change a customer's fields (None leaves one as it is; '' clears an optional one). Each changed
    field is a customer history event, so ``opp undo`` takes the edit back; ``set_fields`` sets custom
    field values (``NAME=VALUE``, ``NAME=`` clears; opp.core.fields), one more event undo takes back."""
    from opp.core import fields as custom

    assignments = custom.parse_assignments(set_fields)
    new: dict[str, Any] = {}
    if name is not None:
        new["name"] = clean_name(name)
    if email is not None:
        new["email"] = clean_email(email)
    if phone is not None:
        new["phone"] = clean_phone(phone)
    if job_title is not None:
        new["job_title"] = clean_job_title(job_title)
    with ctx.unit_of_work("customer edit") as uow:
        customer = resolve_customer(uow.conn, ref)
        if employer is not None:
            works_for = resolve_employer(uow.conn, employer) if employer.strip() else None
            if works_for is not None and works_for.id == customer.id:
                raise Invalid(f"customer {customer.id} cannot be its own employer")
            new["employer_id"] = None if works_for is None else works_for.id
        _check_person_fields(
            customer.kind, employed=new.get("employer_id") is not None, job_title=new.get("job_title")
        )
        if "name" in new:
            _refuse_taken_name(uow.conn, customer.kind, new["name"], customer.id)
        write_customer(uow, customer.id, new, action="updated")
        changes = custom.write_values(uow.conn, "customer", customer.id, assignments, ctx.clock.today())
        custom.record_customer_changes(uow, customer.id, changes)
        return read_customer(uow.conn, customer.id)


def _field_of(column: str) -> str:
    return "employer" if column == "employer_id" else column


def _column_of(name: str) -> str:
    return "employer_id" if name == "employer" else name


def write_customer(
    uow: UnitOfWork, customer_id: int, values: dict[str, Any], *, action: str, note: str | None = None
) -> int:
    """Set a customer's columns to ``values`` (changed ones only) with a history event per changed
    field: the employer as its id, the rest as text. Returns how many fields changed."""
    row = uow.conn.execute(select(c).where(c.c.id == customer_id).with_for_update()).mappings().one()
    changed = {column: value for column, value in values.items() if row[column] != value}
    if not changed:
        return 0
    uow.conn.execute(update(c).where(c.c.id == customer_id).values(**changed))
    for column, value in changed.items():
        record_customer_event(
            uow,
            customer_id,
            action,
            field=_field_of(column),
            old=_text(row[column]),
            new=_text(value),
            note=note,
        )
    return len(changed)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def record_customer_event(
    uow: UnitOfWork,
    customer_id: int,
    action: str,
    *,
    field: str | None = None,
    old: str | None = None,
    new: str | None = None,
    note: str | None = None,
) -> None:
    """Append an event to the customer's history, under this command (for ``opp undo``)."""
    uow.note_record(f"customer {customer_id}")
    uow.conn.execute(
        insert(ch).values(
            customer_id=customer_id,
            command_id=uow.command_id(),
            at=uow.at,
            actor=uow.actor,
            action=action,
            field=field,
            old=old,
            new=new,
            note=note,
        )
    )


# -- undo ----------------------------------------------------------------------------------------------


def customer_events(conn: Connection, command_id: int) -> list[RowMapping]:
    """The customer history events one command wrote, in order."""
    return list(conn.execute(select(ch).where(ch.c.command_id == command_id).order_by(ch.c.id)).mappings())


def check_customers_undoable(conn: Connection, events: list[RowMapping], actor: str, reverted: Any) -> None:
    """Refuse to take back a command's customer changes when another user changed one of those
    customers since (``reverted``: the commands that count for nothing, undone ones and undos)."""
    from opp.core.dates import format_instant

    for customer_id in dict.fromkeys(event["customer_id"] for event in events):
        later = (
            conn.execute(
                select(ch.c.actor, ch.c.action, ch.c.at)
                .where(
                    ch.c.customer_id == customer_id,
                    ch.c.id > events[-1]["id"],
                    ch.c.actor != actor,
                    ch.c.command_id.not_in(reverted),
                )
                .order_by(ch.c.id)
                .limit(1)
            )
            .mappings()
            .first()
        )
        if later is not None:
            raise Conflict(
                f"customer {customer_id} was changed by {later['actor']} since ({later['action']} at "
                f"{format_instant(later['at'])}); undo refused",
                hint="change it back by hand if you still want to",
                reason="customer-changed-since",
                details={"customer": customer_id},
            )


def revert_customer_events(uow: UnitOfWork, events: list[RowMapping], *, note: str) -> None:
    """Take back a command's customer changes, newest first: edited fields get their old values (custom
    fields too), a merged customer comes back (opp.core.pipeline.merge), an added one is removed when
    nothing refers to it. Recorded as ``undo`` events."""
    from opp.core import fields as custom

    for event in reversed(events):
        present = uow.conn.execute(select(c.c.id).where(c.c.id == event["customer_id"])).scalar() is not None
        if event["action"] == "merged":
            from opp.core.pipeline.merge import unmerge

            unmerge(uow, event, note=note)
        elif event["action"] == "created":
            if present:
                _remove_added(uow, event["customer_id"], note=note)
        elif event["field"] == custom.CUSTOMER_FIELDS_EVENT:
            if present and event["old"] is not None:
                custom.restore_customer_texts(uow, event["customer_id"], event["old"], note=note)
        elif event["field"] is not None:
            column = _column_of(event["field"])
            old = event["old"]
            value: Any = int(old) if column == "employer_id" and old is not None else old
            if column == "employer_id" and value is not None:
                found = uow.conn.execute(select(c.c.id).where(c.c.id == value)).scalar()
                if found is None:
                    raise Conflict(f"customer {value}, the employer to restore, no longer exists")
            if not present:
                continue  # merged away since, by the same user: the merge's own undo brings it back
            write_customer(uow, event["customer_id"], {column: value}, action="undo", note=note)


def _remove_added(uow: UnitOfWork, customer_id: int, *, note: str) -> None:
    """Undo a ``customer add``: remove the customer and its custom field values, unless something
    (a deal, a contact place, an employee, an invoice, a ticket) refers to it now."""
    from opp.core.fields import remove_values

    for table in schema.metadata.sorted_tables:
        for column in table.columns:
            refers = any(key.column is c.c.id for key in column.foreign_keys)
            if refers and uow.conn.execute(select(column).where(column == customer_id).limit(1)).first():
                raise Conflict(
                    f"customer {customer_id} has {table.name.replace('_', ' ')} since, so undo cannot "
                    "remove it",
                    hint="remove or move them first (or merge the customer into another)",
                    reason="customer-in-use",
                    details={"customer": customer_id},
                )
    remove_values(uow.conn, "customer", [customer_id])
    uow.conn.execute(delete(c).where(c.c.id == customer_id))
    record_customer_event(uow, customer_id, "undo", note=note)


def _refuse_too_large_totals(conn: Connection, customer: Customer) -> None:
    """Refuse (exit 4) a customer whose deals of one status and currency add up to more than the
    database sums (64 bits), naming that sum; summed first in a way that cannot overflow."""
    from opp.core.money.amounts import format_money
    from opp.store.dialect import INTEGER_LIMIT, wide_sum

    o = schema.opportunities
    dialect = conn.dialect.name
    rows = conn.execute(
        select(
            o.c.currency,
            *(
                wide_sum(dialect, case((o.c.status == status, o.c.value_minor), else_=0))
                for status in STATUSES
            ),
        )
        .where(o.c.customer_id == customer.id)
        .group_by(o.c.currency)
        .order_by(o.c.currency)
    ).all()
    for currency, *sums in rows:
        for status, total in zip(STATUSES, sums, strict=True):
            if total is not None and Decimal(total) > INTEGER_LIMIT:
                figure = format_money(from_minor(int(Decimal(total)), currency))
                limit = format_money(from_minor(INTEGER_LIMIT, currency))
                raise Conflict(
                    f"{customer.name}'s {status} deals in {currency} add up to about {figure} {currency}, "
                    f"more than opp can sum (at most {limit} {currency})"
                )
