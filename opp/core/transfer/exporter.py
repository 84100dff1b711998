"""``opp export``: deals in the import's columns, read in chunks so that no full list is held.

The deals are selected with the filters of ``opp list`` (a :class:`opp.core.pipeline.scope.Scope`),
every status unless filtered, in id order. They are read a chunk of ids at a time (keyset pagination on the
id, portable to every database) and each chunk goes through :func:`opp.core.pipeline.deals.query_deals`, so an
exported deal is exactly the deal ``opp list`` shows. The columns are those ``opp import`` reads, so an
export imports back into an empty database without losing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from opp.core.context import Context
from opp.core.errors import Invalid
from opp.core.pipeline.deals import DealFilter, query_deals
from opp.core.pipeline.scope import Scope, scope_of
from opp.core.records import Opportunity
from opp.core.transfer.readers import COLUMNS
from opp.store import schema

o = schema.opportunities
EXPORT_COLUMNS = COLUMNS
CHUNK = 1000

# Called after each chunk with the deals scanned so far and the fraction of all deals scanned.
Progress = Callable[[int, float | None], None]


def export_record(deal: Opportunity) -> dict[str, Any]:
    """A deal as one flat record in the import's columns, and a column per custom deal field."""
    return {
        "title": deal.title,
        "customer": deal.customer.name,
        "customer_kind": deal.customer.kind,
        "value": deal.value,
        "currency": deal.currency,
        "stage": deal.stage,
        "probability": deal.probability,
        "expected_close": deal.expected_close,
        "external_ref": deal.external_ref,
        "assignee": deal.assignee,
        "description": deal.description,
        "created_at": deal.created_at,
        "closed_at": deal.closed_at,
        "lost_reason": deal.lost_reason,
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
        raise Invalid(f"--limit must be a positive number, not {limit}")
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
            for deal in query_deals(conn, replace(where, ids=ids, sort=[o.c.id], limit=None)):
                yield export_record(deal)
                written += 1
                if limit is not None and written >= limit:
                    return
            scanned += len(ids)
            if progress is not None:
                progress(scanned, scanned / total if total else None)
