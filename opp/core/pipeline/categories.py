"""Forecast categories: how sure a deal is, in the words of a forecast call.

Every deal has one of :data:`CATEGORIES`. A won deal is ``closed`` and a lost one ``omitted``, always;
an open deal takes the category set on it by hand (``opp category C ID``), else its stage's
(``opp stages edit KEY --category C``; the defaults are lead and qualification ``pipeline``, proposal
``best-case``, negotiation ``commit``, and a stage added later starts as ``pipeline``).

A category set by hand is kept in the deal's ``category`` column and written into history like any
field (action ``category``), so ``opp undo`` takes it back and ``--as-of`` rebuilds it. It stays through
stage changes, closing included (a deal reopened gets it back), until ``opp category auto``. A stage's
category is configuration, not history: the category of a deal at a past instant is the one set on it
by hand then, else the category its stage of then has now.

The category is computed in SQL (:func:`category_sql`, :func:`category_sql_of_stages`) so that a
forecast groups by it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, case, null, select

from opp.core.context import Context
from opp.core.errors import Conflict, Invalid
from opp.core.records import Opportunity
from opp.core.refs import parse_ids
from opp.store import schema

#: The categories, in the order a forecast lists them.
CATEGORIES = ("pipeline", "best-case", "commit", "closed", "omitted")
#: The categories an open deal or an open stage can be given (``closed`` belongs to won deals).
OPEN_CATEGORIES = ("pipeline", "best-case", "commit", "omitted")
#: The word that puts a deal back on its stage's category.
AUTO = "auto"
#: The category of a closed deal, by its status.
CLOSED_CATEGORY = {"won": "closed", "lost": "omitted"}
#: The categories of the default stages; any other open stage starts as ``pipeline``.
STAGE_DEFAULTS = {
    "lead": "pipeline",
    "qualification": "pipeline",
    "proposal": "best-case",
    "negotiation": "commit",
    "closed-won": "closed",
    "closed-lost": "omitted",
}
DEFAULT = "pipeline"

st = schema.stages


def parse_category(text: str, *, auto: bool = False) -> str | None:
    """The category a user's text names (case-insensitive, ``_`` as ``-``); None for ``auto`` when
    ``auto`` is allowed. ``closed`` is refused: only a won deal is closed."""
    wanted = text.strip().lower().replace("_", "-")
    allowed = OPEN_CATEGORIES + ((AUTO,) if auto else ())
    if auto and wanted == AUTO:
        return None
    if wanted in OPEN_CATEGORIES:
        return wanted
    if wanted == "closed":
        raise Invalid(
            "the category closed belongs to won deals",
            hint="win the deal instead; categories to choose are " + ", ".join(allowed),
            reason="closed-category",
            details={"allowed": ", ".join(allowed)},
        )
    raise Invalid(f"unknown category {text!r}", hint="categories are " + ", ".join(allowed))


def category_sql(source: FromClause, stages: FromClause = st) -> ColumnElement[Any]:
    """A deal's category in SQL, for deals read from ``source`` (the opportunities table or a state of
    it) joined to ``stages`` on the deal's stage."""
    return _category_sql(source, stages.c.category)


def category_sql_of_stages(conn: Connection, source: FromClause) -> ColumnElement[Any]:
    """A deal's category in SQL, as :func:`category_sql`, with each stage's category written into the
    expression (read from the stages now): no join, for an aggregate over many deals, which would
    otherwise look each deal's stage up (a fifth of a forecast by category)."""
    of_stage = {key: category for key, category in conn.execute(select(st.c.key, st.c.category))}
    stage_category = case(of_stage, value=source.c.stage, else_=null()) if of_stage else null()
    return _category_sql(source, stage_category)


def _category_sql(source: FromClause, stage_category: ColumnElement[Any]) -> ColumnElement[Any]:
    return case(
        (source.c.status == "won", CLOSED_CATEGORY["won"]),
        (source.c.status == "lost", CLOSED_CATEGORY["lost"]),
        (source.c.category.is_not(None), source.c.category),
        else_=stage_category,
    )


def set_category(ctx: Context, category: str, deal_ids: Iterable[int | str]) -> list[Opportunity]:
    """Set the category of open deals by hand, or (``auto``) let them follow their stage again.

    All or nothing: a closed deal's category is its outcome's and cannot be set (Conflict). ``auto`` on a
    closed deal drops a category kept from before it closed, so that a reopened deal follows its stage.
    """
    from opp.core.pipeline.changes import DealChange
    from opp.core.pipeline.deals import fetch_deals, lock_deal

    wanted = parse_category(category, auto=True)
    ids = parse_ids(deal_ids)
    with ctx.unit_of_work("category") as uow:
        for deal_id in ids:
            row = lock_deal(uow.conn, deal_id)
            if wanted is not None and row["status"] != "open":
                outcome = CLOSED_CATEGORY[row["status"]]
                raise Conflict(
                    f"opportunity {deal_id} is {row['status']}, so its category is {outcome}",
                    hint="only an open deal's category can be set; reopen it first",
                    reason="category-of-closed",
                    details={"deal": deal_id},
                )
            change = DealChange(uow, row)
            change.set("category", wanted)
            change.write(action="category")
        return fetch_deals(uow.conn, ids)
