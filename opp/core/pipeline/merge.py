"""Duplicate customers: finding them (``customer dupes``) and merging one into another (``customer merge``).

Two customers are likely the same when their normalised names are equal (:func:`normalized_name`: case,
accents, punctuation, spaces and a trailing legal form such as Inc, Ltd, LLC, GmbH, AS, AB, SA, S.L. or
Co. ignored) or when they share an email address (case ignored). Of such a pair, ``keep`` is the one
with more deals, then the older one (the lower id); ``drop`` is the other.

A merge moves everything that refers to DROP to KEEP (:data:`CUSTOMER_REFERENCES`, the one list of
them), fills KEEP's empty email, phone, employer, job title and custom fields from DROP, and removes
DROP, in one unit of work. Each deal that moves gets an ``updated`` event of its ``customer_id`` and
each contact place a ``contact`` event, so deal history (and ``--as-of``) sees the change; the merge
itself is a ``merged`` event of DROP's customer history holding DROP's row, its custom field values and
the other rows moved, from which ``opp undo`` brings DROP back with its id and moves everything back.
Issued invoices keep the name, email and phone they were issued to (copied onto the invoice when it was
issued); only their link moves to KEEP.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, Table, delete, func, insert, select, update

from opp.core.context import Context, UnitOfWork
from opp.core.dates import format_instant, parse_instant
from opp.core.errors import Conflict, Invalid
from opp.core.pipeline.customers import read_customer, record_customer_event, resolve_customer, write_customer
from opp.core.records import CustomerRef, Record
from opp.store import schema

c = schema.customers
o = schema.opportunities


@dataclass(frozen=True)
class Reference:
    """A column that refers to a customer, and how a merge moves it: ``deal`` (the deal's customer,
    a change in its history), ``contact`` (a place on a deal, a change in its history), or ``row`` (moved
    as it is; the merge event lists the rows by id, so the table needs an ``id`` primary key)."""

    table: str
    column: str
    how: str = "row"


#: Every reference to a customer that ``customer merge`` moves from DROP to KEEP and ``opp undo`` moves
#: back. A new table that refers to customers (tickets, custom field values ...) is added here;
#: tests/test_customer_merge.py fails while a foreign key to customers is missing.
CUSTOMER_REFERENCES: tuple[Reference, ...] = (
    Reference("opportunities", "customer_id", how="deal"),
    Reference("deal_contacts", "customer_id", how="contact"),
    Reference("customers", "employer_id"),
    Reference("invoices", "customer_id"),  # the invoice keeps its customer_name: it was issued to it
    Reference("tickets", "customer_id"),
)

#: What KEEP takes from DROP when KEEP has none.
FILLED = ("email", "phone", "employer_id", "job_title")

# A trailing legal form, after the name is lower-cased, stripped of accents and its punctuation made
# spaces: "Acme, Inc." -> "acme inc" -> "acme". Longest forms first.
LEGAL_FORMS = (
    "gmbh co kg",
    "s a r l",
    "s a",
    "s l",
    "s r l",
    "s p a",
    "b v",
    "n v",
    "co ltd",
    "pty ltd",
    "inc",
    "incorporated",
    "ltd",
    "limited",
    "llc",
    "llp",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "as",
    "asa",
    "ab",
    "oy",
    "sa",
    "sarl",
    "sl",
    "srl",
    "spa",
    "bv",
    "nv",
    "co",
    "corp",
    "corporation",
    "company",
)
_LEGAL_TAIL = re.compile(r"(?:\s(?:" + "|".join(re.escape(form) for form in LEGAL_FORMS) + r"))+$")
_NOT_WORD = re.compile(r"[\W_]+")


def normalized_name(name: str) -> str:
    """The name two spellings of one customer share: lower case, no accents, punctuation as spaces,
    no trailing legal form (``Acme, Inc.``, ``ACME Inc`` and ``Acmé`` are all ``acme``); spaces
    between words are ignored (``Ac Me`` is ``acme`` too)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = " ".join(_NOT_WORD.sub(" ", plain).split())
    stripped = _LEGAL_TAIL.sub("", " " + words).strip() or words
    return stripped.replace(" ", "")


@dataclass(frozen=True)
class DuplicatePair(Record):
    """Two customers that look like one: which to keep, which to merge into it, and why."""

    keep: CustomerRef
    drop: CustomerRef
    reason: str


def find_duplicates(ctx: Context) -> list[DuplicatePair]:
    """Pairs of customers of the same kind whose normalised names are equal or who share an email.

    Names are normalised in Python (accents and legal forms are beyond portable SQL), one pass over
    the customers' id, kind, name and email; the deal counts are one GROUP BY."""
    with ctx.reading() as conn:
        rows = conn.execute(select(c.c.id, c.c.kind, c.c.name, c.c.email).order_by(c.c.id)).all()
        deals: dict[int, int] = dict(
            conn.execute(select(o.c.customer_id, func.count()).group_by(o.c.customer_id)).all()
        )
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.kind, "name", normalized_name(row.name))].append(row)
        if row.email:
            groups[(row.kind, "email", row.email.strip().lower())].append(row)
    reasons: dict[tuple[int, int], list[str]] = {}
    refs: dict[int, CustomerRef] = {}
    for (_kind, basis, key), members in groups.items():
        if len(members) < 2 or not key:
            continue
        ranked = sorted(members, key=lambda row: (-deals.get(row.id, 0), row.id))
        keep = ranked[0]
        for other in ranked[1:]:
            refs[keep.id] = CustomerRef(id=keep.id, kind=keep.kind, name=keep.name)
            refs[other.id] = CustomerRef(id=other.id, kind=other.kind, name=other.name)
            reason = "same name" if basis == "name" else f"same email {key}"
            reasons.setdefault((keep.id, other.id), []).append(reason)
    return [
        DuplicatePair(keep=refs[keep_id], drop=refs[drop_id], reason=", ".join(why))
        for (keep_id, drop_id), why in sorted(reasons.items(), key=lambda item: (item[0][1], item[0][0]))
    ]


@dataclass(frozen=True)
class MergeResult(Record):
    """What ``customer merge`` did: the customer kept (as it is now), the one removed, and how many rows
    of each reference (``table.column``, see :data:`CUSTOMER_REFERENCES`) moved."""

    keep: CustomerRef
    drop: CustomerRef
    moved: dict[str, int]


def merge_customers(ctx: Context, keep_ref: str, drop_ref: str) -> MergeResult:
    """Move every reference to DROP to KEEP and remove DROP; undoable (see the module doc)."""
    from opp.core.pipeline.changes import DealChange
    from opp.core.pipeline.deals import lock_deal
    from opp.core.work.contacts import move_contacts

    with ctx.unit_of_work("customer merge") as uow:
        conn = uow.conn
        keep = resolve_customer(conn, keep_ref)
        drop = resolve_customer(conn, drop_ref)
        if keep.id == drop.id:
            raise Invalid(f"customer {keep.id} ({keep.name}) cannot be merged into itself")
        if keep.kind != drop.kind:
            raise Invalid(
                f"customer {drop.id} ({drop.name}) is an {drop.kind} and customer {keep.id} ({keep.name}) "
                f"an {keep.kind}: only customers of one kind merge",
                hint="merge customers of one kind",
                reason="merge-kinds",
            )
        keep_row = _row(conn, keep.id)
        drop_row = _row(conn, drop.id)
        note = f"merged customer {drop.id} ({drop.name}) into {keep.id} ({keep.name})"
        moved: dict[str, list[int]] = {}
        counts: dict[str, int] = {}
        for reference in CUSTOMER_REFERENCES:
            label = f"{reference.table}.{reference.column}"
            table = schema.metadata.tables[reference.table]
            column = table.c[reference.column]
            if reference.how == "deal":
                ids = list(conn.execute(select(o.c.id).where(column == drop.id).order_by(o.c.id)).scalars())
                for deal_id in ids:
                    change = DealChange(uow, lock_deal(conn, deal_id))
                    change.set("customer_id", keep.id)
                    change.write(action="updated", note=note)
                counts[label] = len(ids)
            elif reference.how == "contact":
                counts[label] = conn.execute(select(func.count()).where(column == drop.id)).scalar_one()
                move_contacts(uow, drop.id, keep.id, note=note)
            else:
                ids = _move_rows(conn, table, reference.column, drop.id, keep.id)
                counts[label] = len(ids)
                if ids:
                    moved[label] = ids
        fill = {
            name: drop_row[name] for name in FILLED if keep_row[name] is None and drop_row[name] is not None
        }
        if fill.get("employer_id") == keep.id:
            del fill["employer_id"]
        write_customer(uow, keep.id, fill, action="updated", note=note)
        drop_fields = _take_fields(uow, keep.id, drop.id, note=note)
        record_customer_event(
            uow,
            drop.id,
            "merged",
            old=json.dumps(
                {"customer": _snapshot(drop_row), "moved": moved, "fields": drop_fields}, sort_keys=True
            ),
            new=str(keep.id),
            note=note,
        )
        conn.execute(delete(c).where(c.c.id == drop.id))
        kept = read_customer(conn, keep.id)
        return MergeResult(
            keep=CustomerRef(id=kept.id, kind=kept.kind, name=kept.name),
            drop=CustomerRef(id=drop.id, kind=drop.kind, name=drop.name),
            moved=counts,
        )


def _take_fields(uow: UnitOfWork, keep_id: int, drop_id: int, *, note: str) -> dict[str, str]:
    """KEEP takes each custom field value of DROP that it has none of (a ``fields`` event of its
    history); DROP's values are removed with it. Returns DROP's values, for the merge event."""
    from opp.core import fields as custom

    dropped = custom.values_texts(uow.conn, "customer", drop_id)
    held = custom.values_texts(uow.conn, "customer", keep_id)
    taken = [custom.ValueChange(name, None, text) for name, text in dropped.items() if name not in held]
    for change in taken:
        custom.restore_text(uow.conn, change.field, keep_id, change.new, record="customer")
    custom.record_customer_changes(uow, keep_id, taken, note=note)
    custom.remove_values(uow.conn, "customer", [drop_id])
    return dropped


def _row(conn: Connection, customer_id: int) -> RowMapping:
    return conn.execute(select(c).where(c.c.id == customer_id).with_for_update()).mappings().one()


def _move_rows(conn: Connection, table: Table, column: str, drop_id: int, keep_id: int) -> list[int]:
    key = table.c.id
    ids = list(conn.execute(select(key).where(table.c[column] == drop_id).order_by(key)).scalars())
    if ids:
        conn.execute(update(table).where(key.in_(ids)).values({column: keep_id}))
    return ids


def _snapshot(row: RowMapping) -> dict[str, Any]:
    """A customer's row as the merge event keeps it (instants as text)."""
    return {key: format_instant(value) if key == "created_at" else value for key, value in row.items()}


def unmerge(uow: UnitOfWork, event: RowMapping, *, note: str) -> None:
    """Undo a merge (its ``merged`` event): DROP back with its id and fields, and the rows moved back
    to it. Its deals and contact places go back through their own deal history (opp.core.pipeline.undo)."""
    conn = uow.conn
    saved = json.loads(event["old"])
    row = dict(saved["customer"])
    drop_id, keep_id = event["customer_id"], int(event["new"])
    if conn.execute(select(c.c.id).where(c.c.id == drop_id)).scalar() is not None:
        raise Conflict(f"customer {drop_id} exists again, so the merge that removed it cannot be undone")
    if row.get("employer_id") is not None:
        exists = conn.execute(select(c.c.id).where(c.c.id == row["employer_id"])).scalar()
        row["employer_id"] = exists
    row["created_at"] = parse_instant(row["created_at"]).replace(tzinfo=None)
    conn.execute(insert(c).values(**row))
    for label, ids in saved["moved"].items():
        table_name, column = label.split(".")
        table = schema.metadata.tables[table_name]
        conn.execute(
            update(table).where(table.c.id.in_(ids), table.c[column] == keep_id).values({column: drop_id})
        )
    from opp.core import fields as custom

    defined = {field.name for field in custom.defined_fields(conn, "customer")}
    for name, text in saved.get("fields", {}).items():
        if name in defined:  # a field removed since is gone for every customer
            custom.restore_text(conn, name, drop_id, text, record="customer")
    record_customer_event(uow, drop_id, "undo", old=str(keep_id), note=note)
