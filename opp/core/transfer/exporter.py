"""``opp export``: deals in the import's columns, read in chunks so that no full list is held.

The deals are selected with the filters of ``opp list`` (a :class:`opp.core.pipeline.scope.Scope`),
every status unless filtered, in id order. They are read a chunk of ids at a time (keyset pagination on the
id, portable to every database) and each chunk goes through :func:`opp.core.pipeline.deals.query_deals`, so an
exported deal is exactly the deal ``opp list`` shows. The columns are those ``opp import`` reads, so an
export imports back into an empty database without losing anything: besides the deal's own fields it
writes the deal's ``id`` (so that the export imports back into the same database as updates, not as
copies), its customer's ``customer_email`` and ``customer_phone`` and its assignee's
``assignee_name`` (so that the customers and users an import creates are the same), looked up once a
chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, func, select

from opp.core.context import Context
from opp.core.errors import Invalid
from opp.core.pipeline.deals import DealFilter, query_deals
from opp.core.pipeline.scope import Scope, scope_of
from opp.core.records import Opportunity
from opp.core.refs import aware
from opp.store import schema

o = schema.opportunities
cu = schema.customers
us = schema.users
EXPORT_COLUMNS = (
    "id",
    "title",
    "customer",
    "customer_kind",
    "customer_email",
    "customer_phone",
    "value",
    "currency",
    "stage",
    "probability",
    "expected_close",
    "external_ref",
    "assignee",
    "assignee_name",
    "description",
    "created_at",
    "closed_at",
    "lost_reason",
    "category",
)
CHUNK = 1000
_LOOKUP_CHUNK = 900  # values per IN (...): SQLite before 3.32 takes at most 999 parameters

# Called after each chunk with the deals scanned so far and the fraction of all deals scanned.
Progress = Callable[[int, float | None], None]


# A customer's (email, phone) and a user's name, by customer id and by handle.
_NO_CONTACT: tuple[str | None, str | None] = (None, None)


def export_record(
    deal: Opportunity,
    contact: tuple[str | None, str | None] = _NO_CONTACT,
    assignee_name: str | None = None,
) -> dict[str, Any]:
    """A deal as one flat record in the import's columns (``contact``: its customer's email and phone),
    and a column per custom deal field."""
    return {
        "id": deal.id,
        "title": deal.title,
        "customer": deal.customer.name,
        "customer_kind": deal.customer.kind,
        "customer_email": contact[0],
        "customer_phone": contact[1],
        "value": deal.value,
        "currency": deal.currency,
        "stage": deal.stage,
        "probability": deal.probability,
        "expected_close": deal.expected_close,
        "external_ref": deal.external_ref,
        "assignee": deal.assignee,
        "assignee_name": assignee_name,
        "description": deal.description,
        "created_at": deal.created_at,
        "closed_at": deal.closed_at,
        "lost_reason": deal.lost_reason,
        # The category set by hand (empty while the deal follows its stage's), which import sets back.
        "category": deal.category if deal.category_set else None,
        **deal.fields,
    }


def export_columns(ctx: Context) -> list[str]:
    """The columns of an export: the import's, then one per custom deal field, named as the field
    (which ``opp import`` reads back; see opp.core.fields)."""
    from opp.core.fields import field_names

    return [*EXPORT_COLUMNS, *field_names(ctx, "deal")]


def export_deals(
    ctx: Context,
    scope: Scope | None = None,
    *,
    progress: Progress | None = None,
    chunk: int = CHUNK,
    limit: int | None = None,
    **filters: Any,
) -> Iterator[dict[str, Any]]:
    """The deals in ``scope`` (or in the scope the ``filters`` make, as for
    :func:`opp.core.pipeline.deals.list_deals`), every status unless it names one, one record at a time.

    A generator: the read transaction stays open while the caller writes each record out.
    """
    if limit is not None and limit < 1:
        raise Invalid(
            f"the limit must be a positive number, not {limit}",
            reason="limit-not-positive",
            details={"value": limit},
        )
    scope = scope_of(scope, **filters)
    scope = replace(scope, status=scope.status or "all")
    with ctx.reading() as conn:
        where = DealFilter.of(scope.resolve(conn, ctx))
        total = conn.execute(select(func.count()).select_from(o)).scalar_one()
        scanned = written = 0
        last = 0
        while True:
            ids = list(
                conn.execute(select(o.c.id).where(o.c.id > last).order_by(o.c.id).limit(chunk)).scalars()
            )
            if not ids:
                break
            last = ids[-1]
            deals = query_deals(conn, replace(where, ids=ids, sort=[o.c.id], limit=None))
            contacts, names = _people_of(conn, deals)
            for deal in deals:
                yield export_record(
                    deal,
                    contacts.get(deal.customer.id, _NO_CONTACT),
                    names.get(deal.assignee) if deal.assignee is not None else None,
                )
                written += 1
                if limit is not None and written >= limit:
                    return
            scanned += len(ids)
            if progress is not None:
                progress(scanned, scanned / total if total else None)


def _people_of(
    conn: Connection, deals: list[Opportunity]
) -> tuple[dict[int, tuple[str | None, str | None]], dict[str, str | None]]:
    """The email and phone of these deals' customers, and the names of their assignees (two queries)."""
    customer_ids = list({deal.customer.id for deal in deals})
    handles = list({deal.assignee for deal in deals if deal.assignee is not None})
    contacts: dict[int, tuple[str | None, str | None]] = {}
    for start in range(0, len(customer_ids), _LOOKUP_CHUNK):
        chunk = customer_ids[start : start + _LOOKUP_CHUNK]
        query = select(cu.c.id, cu.c.email, cu.c.phone).where(cu.c.id.in_(chunk))
        contacts.update((row.id, (row.email, row.phone)) for row in conn.execute(query))
    names: dict[str, str | None] = {}
    if handles:
        query = select(us.c.handle, us.c.name).where(us.c.handle.in_(handles))
        names = {row.handle: row.name for row in conn.execute(query)}
    return contacts, names


# -- the work around deals: tasks, tickets, notes ---------------------------------------------------------

TASK_COLUMNS = ("id", "opportunity_id", "title", "due", "assignee", "status", "created_at", "done_at")
TICKET_COLUMNS = (
    "id",
    "opportunity_id",
    "customer_id",
    "customer",
    "title",
    "kind",
    "priority",
    "status",
    "assignee",
    "opened_at",
    "solved_at",
    "hours",
)
NOTE_COLUMNS = ("id", "opportunity_id", "at", "actor", "kind", "text")
#: What ``opp export --what`` writes, and its columns.
WHAT = {"deals": EXPORT_COLUMNS, "tasks": TASK_COLUMNS, "tickets": TICKET_COLUMNS, "notes": NOTE_COLUMNS}


def what_columns(what: str) -> tuple[str, ...]:
    """The built-in columns of an export of ``what`` (deals, tasks, tickets or notes); a deal export
    adds the custom fields (:func:`export_columns`)."""
    found = WHAT.get(what.strip().lower())
    if found is None:
        raise Invalid(f"cannot export {what!r}", hint="export " + ", ".join(WHAT))
    return tuple(found)


def export_tasks(ctx: Context) -> Iterator[dict[str, Any]]:
    """Every task, open or done, in id order."""
    from opp.core.work.tasks import task_of

    t = schema.tasks
    with ctx.reading() as conn:
        for row in conn.execute(
            select(t).order_by(t.c.id), execution_options={"yield_per": CHUNK}
        ).mappings():
            yield task_of(row).as_dict()


def export_tickets(ctx: Context) -> Iterator[dict[str, Any]]:
    """Every ticket, closed ones too, in id order, the customer as its id and name."""
    from opp.core.work.tickets import list_tickets

    for ticket in list_tickets(ctx, status="all"):
        record = ticket.as_dict()
        customer = record.pop("customer")
        yield {**record, "customer_id": customer["id"], "customer": customer["name"]}


def export_notes(ctx: Context) -> Iterator[dict[str, Any]]:
    """Every note on a deal, oldest first; a note without a kind is an internal one."""
    h = schema.history
    query = select(h.c.id, h.c.opportunity_id, h.c.at, h.c.actor, h.c.field, h.c.note).where(
        h.c.action == "note"
    )
    with ctx.reading() as conn:
        for row in conn.execute(query.order_by(h.c.id), execution_options={"yield_per": CHUNK}).mappings():
            yield {
                "id": row["id"],
                "opportunity_id": row["opportunity_id"],
                "at": aware(row["at"]),
                "actor": row["actor"],
                "kind": row["field"] or "internal",
                "text": row["note"],
            }
