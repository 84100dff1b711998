"""Deal contacts: the people (individuals) on a deal, each once, with their role in it.

Every change is a ``contact`` event in the deal's history, written in the command's unit of work, so it
is all-or-nothing and ``opp undo`` takes it back (:func:`revert_contact_event`). The event's ``field`` is
``contact`` and its ``old``/``new`` sides are the contact before and after, each a JSON object
``{"id", "name", "role"}`` (the person's id and name as they were) or null: null → object adds a
contact, object → null removes one, object → object changes the role (or, in a merge, the person).
Adding someone already on the deal changes nothing unless a different role is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from opp.core.context import Context, UnitOfWork
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.pipeline.customers import resolve_customer
from opp.core.pipeline.deals import fetch_deals, lock_deal
from opp.core.records import CustomerRef, Record
from opp.core.refs import clean_text, parse_id
from opp.store import schema

dc = schema.deal_contacts
cu = schema.customers
ACTION = "contact"
FIELD = "contact"
ROLE_LENGTH = 200


@dataclass(frozen=True)
class DealContact(Record):
    """A person on a deal, and their role in it (free text, such as "decision maker")."""

    customer: CustomerRef
    role: str | None


def contact_text(customer_id: int, name: str, role: str | None) -> str:
    """A contact as a ``contact`` event's ``old`` or ``new`` holds it."""
    return json.dumps({"id": customer_id, "name": name, "role": role}, sort_keys=True)


def read_contacts(conn: Connection, deal_id: int) -> list[DealContact]:
    """The deal's contacts in the order they were added."""
    rows = conn.execute(
        select(cu.c.id, cu.c.kind, cu.c.name, dc.c.role)
        .join(cu, cu.c.id == dc.c.customer_id)
        .where(dc.c.opportunity_id == deal_id)
        .order_by(dc.c.id)
    ).mappings()
    return [
        DealContact(customer=CustomerRef(id=row["id"], kind=row["kind"], name=row["name"]), role=row["role"])
        for row in rows
    ]


def list_contacts(ctx: Context, deal_id: int | str) -> list[DealContact]:
    """``opp contact list ID``: the people on a deal."""
    wanted = parse_id(deal_id)
    with ctx.reading() as conn:
        fetch_deals(conn, [wanted])  # an unknown deal is "not found", not "no contacts"
        return read_contacts(conn, wanted)


def _person(conn: Connection, ref: str) -> Any:
    person = resolve_customer(conn, ref, kind="individual", strict=False)
    if person.kind != "individual":
        raise Invalid(
            f"customer {person.id} ({person.name}) is an organization; a deal's contact is a person",
            hint="name an individual",
            reason="contact-not-person",
        )
    return person


def _row(conn: Connection, deal_id: int, customer_id: int) -> RowMapping | None:
    return (
        conn.execute(select(dc).where(dc.c.opportunity_id == deal_id, dc.c.customer_id == customer_id))
        .mappings()
        .first()
    )


def _describe(name: str, role: str | None) -> str:
    return f"{name} ({role})" if role else name


def add_contact(
    ctx: Context, deal_id: int | str, person_ref: str, *, role: str | None = None
) -> list[DealContact]:
    """Put a person on a deal (with a role); someone already on it keeps their place, and their role
    changes only when another one is given. Returns the deal's contacts."""
    wanted = parse_id(deal_id)
    role = clean_text(role, what="role", max_length=ROLE_LENGTH)
    with ctx.unit_of_work("contact add") as uow:
        lock_deal(uow.conn, wanted)
        put_on_deal(uow, wanted, _person(uow.conn, person_ref), role)
        return read_contacts(uow.conn, wanted)


def put_on_deal(uow: UnitOfWork, deal_id: int, person: Any, role: str | None) -> None:
    """:func:`add_contact` inside the caller's unit of work, for a deal it has locked and a person
    (a customer record of an individual) it has resolved."""
    found = _row(uow.conn, deal_id, person.id)
    if found is None:
        uow.conn.execute(
            insert(dc).values(opportunity_id=deal_id, customer_id=person.id, role=role, created_at=uow.at)
        )
        uow.record(
            deal_id,
            ACTION,
            field=FIELD,
            new=contact_text(person.id, person.name, role),
            note=f"added {_describe(person.name, role)}",
        )
    elif role is not None and role != found["role"]:
        uow.conn.execute(update(dc).where(dc.c.id == found["id"]).values(role=role))
        uow.record(
            deal_id,
            ACTION,
            field=FIELD,
            old=contact_text(person.id, person.name, found["role"]),
            new=contact_text(person.id, person.name, role),
            note=f"{person.name} is now {role}",
        )


def remove_contact(ctx: Context, deal_id: int | str, person_ref: str) -> list[DealContact]:
    """Take a person off a deal; someone not on it is not found. Returns the deal's contacts."""
    wanted = parse_id(deal_id)
    with ctx.unit_of_work("contact remove") as uow:
        lock_deal(uow.conn, wanted)
        person = resolve_customer(uow.conn, person_ref, kind="individual", strict=False)
        found = _row(uow.conn, wanted, person.id)
        if found is None:
            raise NotFound(
                f"{person.name} (customer {person.id}) is not a contact of opportunity {wanted}",
                hint="see the deal's contacts",
                reason="not-a-contact",
                details={"deal": wanted},
            )
        uow.conn.execute(delete(dc).where(dc.c.id == found["id"]))
        uow.record(
            wanted,
            ACTION,
            field=FIELD,
            old=contact_text(person.id, person.name, found["role"]),
            note=f"removed {_describe(person.name, found['role'])}",
        )
        return read_contacts(uow.conn, wanted)


def move_contacts(uow: UnitOfWork, drop_id: int, keep_id: int, *, note: str) -> None:
    """In a customer merge: DROP's places on deals go to KEEP (a deal KEEP is on already keeps KEEP's
    role, and DROP's place goes), each as a ``contact`` event of the deal."""
    names = dict(uow.conn.execute(select(cu.c.id, cu.c.name).where(cu.c.id.in_([drop_id, keep_id]))).all())
    rows = list(uow.conn.execute(select(dc).where(dc.c.customer_id == drop_id).order_by(dc.c.id)).mappings())
    for found in rows:
        deal_id = found["opportunity_id"]
        lock_deal(uow.conn, deal_id)
        old = contact_text(drop_id, names[drop_id], found["role"])
        if _row(uow.conn, deal_id, keep_id) is not None:
            uow.conn.execute(delete(dc).where(dc.c.id == found["id"]))
            uow.record(deal_id, ACTION, field=FIELD, old=old, note=note)
        else:
            uow.conn.execute(update(dc).where(dc.c.id == found["id"]).values(customer_id=keep_id))
            new = contact_text(keep_id, names[keep_id], found["role"])
            uow.record(deal_id, ACTION, field=FIELD, old=old, new=new, note=note)


def revert_contact_event(uow: UnitOfWork, deal_id: int, event: RowMapping, *, note: str) -> None:
    """Undo one ``contact`` event: the deal's contacts as they were before it (``old``), recorded as an
    ``undo`` event with the sides swapped."""
    before = json.loads(event["old"]) if event["old"] is not None else None
    after = json.loads(event["new"]) if event["new"] is not None else None
    conn = uow.conn
    if after is not None and (before is None or before["id"] != after["id"]):
        conn.execute(delete(dc).where(dc.c.opportunity_id == deal_id, dc.c.customer_id == after["id"]))
    if before is not None:
        if conn.execute(select(cu.c.id).where(cu.c.id == before["id"])).scalar() is None:
            raise Conflict(
                f"opportunity {deal_id}: contact {before['name']} (customer {before['id']}) no longer exists",
                hint="undo the command that removed that customer first",
            )
        present = _row(conn, deal_id, before["id"])
        if present is None:
            conn.execute(
                insert(dc).values(
                    opportunity_id=deal_id, customer_id=before["id"], role=before["role"], created_at=uow.at
                )
            )
        else:
            conn.execute(update(dc).where(dc.c.id == present["id"]).values(role=before["role"]))
    uow.record(deal_id, "undo", field=FIELD, old=event["new"], new=event["old"], note=note)
