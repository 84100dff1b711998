"""Opportunities: creating, reading, listing, editing, moving, assigning and claiming deals.

Every write runs in one unit of work that changes the deal and records its history events together;
bulk operations touch every deal in one transaction, so one refusal leaves all of them as they were.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)

from opp.core import settings
from opp.core.billing.billables import BillingSummary
from opp.core.context import Context, UnitOfWork
from opp.core.dates import format_instant, parse_date
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.money.amounts import from_minor, normalize_currency, parse_amount, parse_probability, to_minor
from opp.core.money.figures import forecast_minor_expr
from opp.core.pipeline.categories import category_sql
from opp.core.pipeline.changes import (
    DealChange,
    FieldChange,
    check_ref_free,
    clean_description,
    clean_reason,
    clean_ref,
    clean_title,
    write_deal,
)
from opp.core.pipeline.codec import assignee_text, snapshot_sql
from opp.core.pipeline.customers import resolve_customer
from opp.core.pipeline.scope import DELETED, DealScope, Scope, close_date, scope_of
from opp.core.pipeline.stages import Move, load_pipeline, plan_move
from opp.core.pipeline.users import user_id
from opp.core.records import CustomerRef, Event, NextTask, Opportunity, Record, Stage, built
from opp.core.refs import aware, handle_key, parse_id, parse_ids
from opp.store import schema
from opp.store.dialect import insert_returning_ids

if TYPE_CHECKING:
    from opp.core.money.rates import Conversion

o = schema.opportunities
cu = schema.customers
us = schema.users
st = schema.stages

#: Deals fetched from the database at a time by a listing.
STREAM_BATCH = 1000
SORT_FIELDS: dict[str, Any] = {
    "id": o.c.id,
    "title": o.c.title,
    "value": o.c.value_minor,
    "currency": o.c.currency,
    "probability": o.c.probability,
    "forecast": forecast_minor_expr(o.c.value_minor, o.c.probability),
    "stage": o.c.stage,
    "status": o.c.status,
    "expected_close": o.c.expected_close,
    "close": o.c.expected_close,
    "created_at": o.c.created_at,
    "created": o.c.created_at,
    "updated_at": o.c.updated_at,
    "updated": o.c.updated_at,
    "closed_at": o.c.closed_at,
    "customer": cu.c.name,
    "assignee": us.c.handle,
}


@dataclass(frozen=True)
class DealDetail(Record):
    """A deal with its whole history (``opp show``) and its billing (see opp.core.billing.billables)."""

    opportunity: Opportunity
    history: list[Event]
    billing: BillingSummary | None = None
    #: The people on the deal (opp.core.work.contacts.DealContact).
    contacts: list[Record] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.opportunity.as_dict(),
            "billing": None if self.billing is None else self.billing.as_dict(),
            "contacts": [contact.as_dict() for contact in self.contacts],
            "history": [event.as_dict() for event in self.history],
        }


@dataclass
class DealFilter(DealScope):
    """Which deals a listing covers (a :class:`~opp.core.pipeline.scope.DealScope`), in which order and
    how many; every field narrows it further."""

    #: Open deals whose stage last changed before this instant (naive UTC): ``opp report stuck``.
    stage_changed_before: datetime | None = None
    ids: Sequence[int] | None = None
    sort: Sequence[Any] = field(default_factory=lambda: [o.c.id])
    limit: int | None = None
    #: Leave out the first this many deals (in the filter's order): a screen's page of a long list.
    offset: int | None = None
    #: At most this many deals of each stage (the first ones in the filter's order): the board's cards.
    per_stage: int | None = None

    @classmethod
    def of(cls, scope: DealScope, **listing: Any) -> DealFilter:
        """The deals of ``scope``, listed as ``listing`` (sort, limit ...) says."""
        return cls(**{f.name: getattr(scope, f.name) for f in fields(DealScope)}, **listing)


# -- reading -------------------------------------------------------------------------------------------


def _deal_select() -> Select[Any]:
    from opp.core.work.tasks import next_task_id

    nt = schema.tasks.alias("next_task")
    return (
        select(
            o,
            cu.c.kind.label("customer_kind"),
            cu.c.name.label("customer_name"),
            us.c.handle.label("assignee_handle"),
            forecast_minor_expr(o.c.value_minor, o.c.probability).label("forecast_minor"),
            nt.c.id.label("next_task_id"),
            nt.c.title.label("next_task_title"),
            nt.c.due.label("next_task_due"),
            category_sql(o, st).label("forecast_category"),
        )
        .join(cu, cu.c.id == o.c.customer_id)
        .outerjoin(us, us.c.id == o.c.assignee_id)
        .join(st, st.c.key == o.c.stage)
        # The next step, in the same query (never a query per deal): the open task due first.
        .outerjoin(nt, and_(o.c.status == "open", nt.c.id == next_task_id(o.c.id)))
    )


#: The columns of :func:`_deal_select` a deal's record is built from, in the order :func:`_opportunity`
#: takes them (read from each row by position, at once: a listing builds a record for every deal).
_RECORD_COLUMNS = (
    "id",
    "title",
    "description",
    "customer_id",
    "customer_kind",
    "customer_name",
    "value_minor",
    "currency",
    "probability",
    "forecast_minor",
    "stage",
    "status",
    "expected_close",
    "external_ref",
    "assignee_handle",
    "lost_reason",
    "created_at",
    "updated_at",
    "closed_at",
    "version",
    "next_task_id",
    "next_task_title",
    "next_task_due",
    "forecast_category",
    "category",
)


def _record_values(keys: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """A function taking a row of a result with these column ``keys`` to the values of
    :data:`_RECORD_COLUMNS`, in that order."""
    from operator import itemgetter

    position = {key: index for index, key in enumerate(keys)}
    return itemgetter(*(position[key] for key in _RECORD_COLUMNS))


def _opportunity(values: tuple[Any, ...], fields: dict[str, Any] | None = None) -> Opportunity:
    """A deal's record from the values of :data:`_RECORD_COLUMNS` of its row."""
    (
        deal_id,
        title,
        description,
        customer_id,
        customer_kind,
        customer_name,
        value_minor,
        currency,
        probability,
        forecast_minor,
        stage,
        status,
        expected_close,
        external_ref,
        assignee,
        lost_reason,
        created_at,
        updated_at,
        closed_at,
        version,
        next_task_id,
        next_task_title,
        next_task_due,
        forecast_category,
        category,
    ) = values
    return built(
        Opportunity,
        id=deal_id,
        title=title,
        description=description,
        customer=built(CustomerRef, id=customer_id, kind=customer_kind, name=customer_name),
        value=from_minor(value_minor, currency),
        currency=currency,
        probability=probability,
        forecast=from_minor(forecast_minor, currency),
        stage=stage,
        status=status,
        expected_close=expected_close,
        external_ref=external_ref,
        assignee=assignee,
        lost_reason=lost_reason,
        created_at=aware(created_at),
        updated_at=aware(updated_at),
        closed_at=aware(closed_at),
        version=version,
        next_task=None
        if next_task_id is None
        else built(NextTask, id=next_task_id, title=next_task_title, due=next_task_due),
        category=forecast_category,
        category_set=status == "open" and category is not None,
        fields={} if fields is None else fields,
    )


def iter_deals(conn: Connection, where: DealFilter) -> Iterator[Opportunity]:
    """The deals a filter selects, in its order, as they are read.

    With ``where.as_of`` the same query runs over the deals as they stood then, rebuilt from history.
    """
    query = deals_query(conn, where)
    from opp.core.fields import defined_fields, values_of

    # Fetched in batches (on PostgreSQL through a server-side cursor), so that a listing of every deal
    # is never held in memory at once; the option is this statement's, not the connection's.
    result = conn.execute(query, execution_options={"yield_per": STREAM_BATCH})
    values = _record_values(list(result.keys()))
    if not defined_fields(conn, "deal"):
        for found in result:
            yield _opportunity(values(found))
        return
    # Custom fields: one query per batch of deals read (see opp.core.fields.values_of).
    while batch := [values(row) for row in itertools.islice(result, STREAM_BATCH)]:
        custom = values_of(conn, "deal", [row[0] for row in batch], where.as_of)
        for row in batch:
            yield _opportunity(row, custom[row[0]])


def iter_deal_ids(conn: Connection, where: DealFilter) -> Iterator[int]:
    """Only the ids of the deals a filter selects, in its order, as they are read: what ``--format
    ids`` prints, without building a record of each deal (a tenth of the time for a long list)."""
    query = deals_query(conn, where)
    only_ids = query.with_only_columns(query.selected_columns.id)
    for row in conn.execute(only_ids, execution_options={"yield_per": STREAM_BATCH}):
        yield row[0]


def query_deals(conn: Connection, where: DealFilter) -> list[Opportunity]:
    """The deals a filter selects, in its order (a building block for services and reports)."""
    return list(iter_deals(conn, where))


def deals_query(conn: Connection, where: DealFilter) -> Select[Any]:
    """The query behind :func:`iter_deals`."""
    from opp.core.pipeline.asof import deal_source, over

    query = _deal_select().where(*_conditions(conn, where))
    if where.per_stage is not None and where.as_of is None:
        # Each stage's first deals by an ORDER BY ... LIMIT of their own, which the index on (status,
        # stage, expected_close, ...) serves by reading a few entries, not every deal; then read whole.
        chosen = _chosen_ids(conn, where)
        keys = list(conn.execute(select(st.c.key).order_by(st.c.key)).scalars())
        firsts = [
            select(
                chosen.where(o.c.stage == key)
                .order_by(*where.sort, o.c.id)
                .limit(_written(where.per_stage))
                .subquery()
                .c.id
            )
            for key in keys
        ]
        # The ids first, on their own: inside one statement the planner may read every deal instead.
        ids = list(conn.execute(union_all(*firsts)).scalars())
        query = query.where(o.c.id.in_(ids)).order_by(o.c.stage, *where.sort, o.c.id)
    elif where.per_stage is not None:
        # Ranked on ids alone (a narrow sort), then the chosen deals read whole.
        rank = func.row_number().over(partition_by=o.c.stage, order_by=[*where.sort, o.c.id])
        ranked = query.with_only_columns(o.c.id.label("deal_id"), rank.label("stage_rank")).subquery("ranked")
        query = (
            _deal_select()
            .join(ranked, ranked.c.deal_id == o.c.id)
            .where(ranked.c.stage_rank <= where.per_stage)
            .order_by(o.c.stage, ranked.c.stage_rank)
        )
    else:
        page = _page_ids(conn, where)
        if page is not None:
            # The page's deals by their ids alone: the filter chose them (asked again, it may lead the
            # planner to walk an index instead of looking the few deals up).
            return _deal_select().where(o.c.id.in_(page)).order_by(*where.sort, o.c.id)
        query = query.order_by(*where.sort, o.c.id)
    return over(_paged(query, where), deal_source(conn, where.as_of))


def _conditions(conn: Connection, where: DealFilter) -> list[ColumnElement[bool]]:
    """The filter as conditions on the opportunities table (a search also reads the customers')."""
    found = where.conditions(conn)
    if where.stage_changed_before is not None:
        # 'open' written into the statement: SQLite takes the partial index on open deals' last stage
        # change (report stuck, longest stuck first) only for a condition it can see implies its own.
        is_open = o.c.status == literal("open", literal_execute=True)
        found += [is_open, o.c.stage_changed_at < where.stage_changed_before]
    if where.ids is not None:
        found.append(o.c.id.in_(list(where.ids)))
    return found


def _chosen_ids(conn: Connection, where: DealFilter) -> Select[Any]:
    """The ids of the deals ``where`` selects, over the opportunities table (unordered, no limit)."""
    return select(o.c.id).where(*_conditions(conn, where))


#: The longest page whose ids :func:`_page_ids` reads first (they go back into the query as a list).
PAGE_IDS_AT_MOST = 1000


def page_ids_query(conn: Connection, where: DealFilter) -> Select[Any] | None:
    """The statement choosing the ids of a short page of deals (a ``--limit``, a screen of ``opp
    browse``) over the opportunities table alone, when neither the filter nor the order needs another
    table; else None (the page is read in one query, as a long listing is).

    The query behind a listing joins every deal to its customer, assignee, stage and next task. Sorting
    by a figure no index orders (``--sort -value`` across currencies: each deal's amount converted)
    then sorts joined rows; choosing the page's ids first, over the deals alone, and reading those few
    deals whole, is about three times faster at a million open deals, and costs one short statement
    when an index serves the order (migration 0013 gives the default order, by id, one)."""
    if where.limit is None or where.limit > PAGE_IDS_AT_MOST or where.as_of is not None:
        return None
    chosen = _chosen_ids(conn, where)
    # The tables the filter and the order read, besides the deals' (a search reads the customers').
    if list(chosen.add_columns(*where.sort).get_final_froms()) != [o]:
        return None
    return _paged(chosen.order_by(*where.sort, o.c.id), where)


def _written(count: int) -> ColumnElement[int]:
    """A LIMIT or OFFSET written into the statement when it runs, not bound: told only "some number",
    SQLite plans for a long page, and may walk the whole index on the sort column (expected_close,
    for the most overdue deals first) reading each deal to test the filter, where the index on the
    filter and the sort together gives a short page at once (0.4 s against 1 ms at a million deals)."""
    return literal(count, literal_execute=True)


def _paged(query: Select[Any], where: DealFilter) -> Select[Any]:
    """``query`` limited to the filter's page (its ``limit`` and ``offset``), if it has one."""
    if where.limit is not None:
        query = query.limit(_written(where.limit))
    return query.offset(_written(where.offset)) if where.offset else query


def _page_ids(conn: Connection, where: DealFilter) -> list[int] | None:
    """The ids of the page :func:`page_ids_query` chooses, or None."""
    chosen = page_ids_query(conn, where)
    return None if chosen is None else list(conn.execute(chosen).scalars())


def fetch_deals(conn: Connection, ids: Sequence[int]) -> list[Opportunity]:
    """The deals with these ids, in the order given; NotFound names the first missing one."""
    found = {deal.id: deal for deal in query_deals(conn, DealFilter(status="all", ids=ids))}
    for deal_id in ids:
        if deal_id not in found:
            raise _no_such_deal(deal_id)
    return [found[deal_id] for deal_id in ids]


def _no_such_deal(deal_id: int) -> NotFound:
    return NotFound(f"no opportunity {deal_id}", reason="no-deal", details={"deal": deal_id})


def show_deal(ctx: Context, deal_id: int | str) -> DealDetail:
    from opp.core.billing.billables import billing_summary
    from opp.core.pipeline.history import EventFilter, query_events
    from opp.core.work.contacts import read_contacts

    wanted = parse_id(deal_id)
    with ctx.reading() as conn:
        deal = fetch_deals(conn, [wanted])[0]
        events = query_events(conn, EventFilter(opportunity_id=wanted))
        billing = billing_summary(conn, wanted)
        contacts = read_contacts(conn, wanted)
    return DealDetail(opportunity=deal, history=events, billing=billing, contacts=list(contacts))


#: Sort fields that are amounts: across currencies they sort by the amount in the reporting currency.
MONEY_SORTS = ("value", "forecast")


def sort_terms(
    sort: str | None,
    converted: Callable[[], Conversion | None] | None = None,
    *,
    close: Any = None,
) -> list[Any]:
    """The ORDER BY terms of ``sort`` (fields separated by commas, ``-`` before one descends).

    ``close`` sorts by the close date where the deals may be closed: the day a deal closed once it is
    closed, else its expected close (:func:`opp.core.pipeline.scope.close_date`), as the period
    filters date it; without it (open deals only) ``close`` is the expected close, which the index on
    ``expected_close`` orders. ``expected_close`` always sorts by the column itself.

    ``converted`` gives the deals' amounts in the reporting currency when they are in several
    currencies (None when in one): ``value`` and ``forecast`` then sort by those, so 1,000 EUR comes
    after 900 USD at 1.10, not before 2,000 JPY."""
    if not sort:
        return [o.c.id]
    terms = []
    measures: Conversion | None = None
    for part in sort.split(","):
        name = part.strip().lower()
        descending = name.startswith("-")
        field_name = name.lstrip("-+")
        column = SORT_FIELDS.get(field_name)
        if column is None:
            raise Invalid(
                f"cannot sort by {part.strip()!r}",
                hint="sort by " + ", ".join(sorted(SORT_FIELDS)) + "; prefix '-' for descending",
            )
        if field_name == "close" and close is not None:
            column = close
        if field_name in MONEY_SORTS and converted is not None:
            measures = measures or converted()
            if measures is not None:
                column = measures.value if field_name == "value" else measures.forecast
        terms.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    return terms


def _amounts_in_reporting_currency(conn: Connection, ctx: Context, scope: DealScope) -> Conversion | None:
    """The deals' value and forecast in the reporting currency, for sorting, when the deals of
    ``scope`` are in several currencies (None when in one). Without a reporting currency, or a rate
    in force for a deal, it is refused (Conflict) rather than sorted by numbers that do not compare."""
    from opp.core.money.rates import conversion

    deals = select(o.c.id)
    if scope.search:
        deals = deals.select_from(o.join(cu, cu.c.id == o.c.customer_id))
    deals = deals.where(*scope.conditions(conn))
    # One currency or several? Two look-ups that end at the first deal found, not a DISTINCT over
    # every deal in scope (seconds at a million).
    first = conn.execute(deals.with_only_columns(o.c.currency).limit(1)).scalar()
    if first is None:
        return None
    another = deals.with_only_columns(o.c.currency).where(o.c.currency != first).limit(1)
    if conn.execute(another).first() is None:
        return None
    target = settings.value_of(conn, "reporting_currency")
    if target is None:
        present = sorted(conn.execute(deals.with_only_columns(o.c.currency).distinct()).scalars())
        raise Conflict(
            "cannot sort by amount: the deals are in several currencies (" + ", ".join(present) + ") "
            "and no reporting currency is set",
            reason="sort-needs-reporting-currency",
        )
    return conversion(conn, deals, target, today=scope.day or ctx.clock.today())


def build_filter(
    conn: Connection,
    ctx: Context,
    scope: Scope,
    *,
    sort: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> DealFilter:
    """Turn the deals a command covers (a :class:`~opp.core.pipeline.scope.Scope`, validated as it is
    resolved), their order and how many (after the first ``offset``) into a filter."""
    if limit is not None and limit < 1:
        raise Invalid(
            f"the limit must be a positive number, not {limit}",
            reason="limit-not-positive",
            details={"value": limit},
        )
    if offset is not None and offset < 0:
        raise Invalid(
            f"the offset must not be negative, not {offset}",
            hint="an offset of N skips the first N deals; 0 skips none",
        )
    resolved = scope.resolve(conn, ctx)
    close = None if resolved.status == "open" else close_date(conn.dialect.name)
    terms = sort_terms(sort, lambda: _amounts_in_reporting_currency(conn, ctx, resolved), close=close)
    return DealFilter.of(resolved, sort=terms, limit=limit, offset=offset)


def list_deals(
    ctx: Context,
    scope: Scope | None = None,
    *,
    sort: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    **filters: Any,
) -> list[Opportunity]:
    """Deals in ``scope``, or in the scope the ``filters`` (its fields as keywords) make; open deals by
    default. ``sort`` is a list of fields (``-value`` descends), ``limit`` keeps the first that many
    (after the first ``offset``)."""
    return list(stream_deals(ctx, scope, sort=sort, limit=limit, offset=offset, **filters))


def stream_deals(
    ctx: Context,
    scope: Scope | None = None,
    *,
    sort: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    **filters: Any,
) -> Iterator[Opportunity]:
    """:func:`list_deals` as a generator: the deals as they are read, the read transaction open until
    the last one (or until the generator is closed). Bad options raise at the first ``next``.

    ``offset`` leaves out the first that many: with ``limit``, one page of a long list, read from the
    database alone (``opp browse`` pages through a million deals this way)."""
    with ctx.reading() as conn:
        where = build_filter(conn, ctx, scope_of(scope, **filters), sort=sort, limit=limit, offset=offset)
        yield from iter_deals(conn, where)


def stream_deal_ids(
    ctx: Context,
    scope: Scope | None = None,
    *,
    sort: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    **filters: Any,
) -> Iterator[int]:
    """:func:`stream_deals`, only the ids (:func:`iter_deal_ids`)."""
    with ctx.reading() as conn:
        where = build_filter(conn, ctx, scope_of(scope, **filters), sort=sort, limit=limit, offset=offset)
        yield from iter_deal_ids(conn, where)


# -- writing -------------------------------------------------------------------------------------------


def _parse_close(text: str | None, ctx: Context) -> date | None:
    if text is None or text.strip().lower() in ("", "none"):
        return None
    return parse_date(text, ctx.clock.today())


def create_deal(
    ctx: Context,
    title: str,
    *,
    org: str | None = None,
    person: str | None = None,
    value: str | None = None,
    currency: str | None = None,
    stage: str | None = None,
    probability: str | None = None,
    close: str | None = None,
    description: str | None = None,
    ref: str | None = None,
    assign: str | None = None,
    set_fields: Iterable[str] = (),
) -> Opportunity:
    """Create a deal for an existing customer; the currency defaults to the team's, the value to 0.

    ``set_fields`` are custom field values, ``NAME=VALUE``: each one set is an ``updated`` event of the
    same command, after the ``created`` one (see opp.core.fields)."""
    from opp.core import fields as custom

    if (org is None) == (person is None):
        raise Invalid(
            "a deal needs exactly one customer: an organization or a person", reason="org-or-person"
        )
    new_title = clean_title(title)
    new_description = clean_description(description)
    new_ref = clean_ref(ref)
    chance = parse_probability(probability) if probability is not None else None
    expected_close = _parse_close(close, ctx)
    assignments = custom.parse_assignments(set_fields)
    with ctx.unit_of_work("create") as uow:
        conn = uow.conn
        customer = resolve_customer(
            conn, org if org is not None else person or "", kind="organization" if org else "individual"
        )
        code = normalize_currency(currency) if currency else settings.default_currency(conn)
        value_minor = to_minor(parse_amount(value, code), code) if value is not None else 0
        pipeline = load_pipeline(conn)
        target = pipeline.get(stage) if stage else pipeline.open_stages[0]
        move = plan_move(pipeline, target, target, probability=chance)  # validates closed probabilities
        assert move is None
        chance = target.probability if chance is None else chance
        assignee_id = user_id(conn, assign) if assign is not None else None
        check_ref_free(conn, new_ref)
        deal = new_deal(
            uow.at,
            title=new_title,
            description=new_description,
            customer_id=customer.id,
            value_minor=value_minor,
            currency=code,
            stage=target,
            probability=chance,
            expected_close=expected_close,
            external_ref=new_ref,
            assignee_id=assignee_id,
        )
        new_id = insert_deals(uow, [deal])[0]
        changes = custom.write_values(conn, "deal", new_id, assignments, ctx.clock.today())
        custom.record_deal_changes(uow, new_id, changes)
        return fetch_deals(conn, [new_id])[0]


def new_deal(
    at: datetime,
    *,
    title: str,
    description: str | None,
    customer_id: int,
    value_minor: int,
    currency: str,
    stage: Stage,
    probability: int,
    expected_close: date | None,
    external_ref: str | None,
    assignee_id: int | None,
    created_at: datetime | None = None,
    closed_at: datetime | None = None,
    lost_reason: str | None = None,
) -> dict[str, Any]:
    """What a validated new deal is: its opportunities row, not yet written (:func:`insert_deals`).

    ``at`` is the command's instant. ``created_at`` and ``closed_at`` (naive UTC) bring over the dates
    of a deal made elsewhere; a closed stage without ``closed_at`` closes at ``at``.
    """
    created = created_at or at
    closed = None if stage.is_open else closed_at or at
    reason = lost_reason if stage.kind == "lost" else None
    return {
        "title": title,
        "description": description,
        "customer_id": customer_id,
        "value_minor": value_minor,
        "currency": currency,
        "probability": probability,
        "stage": stage.key,
        "status": stage.kind,
        "expected_close": expected_close,
        "external_ref": external_ref,
        "assignee_id": assignee_id,
        "lost_reason": reason,
        "created_at": created,
        "updated_at": at,
        "closed_at": closed,
        "stage_changed_at": closed or created,
        "version": 1,
    }


def insert_deals(uow: UnitOfWork, deals: Sequence[dict[str, Any]]) -> list[int]:
    """Write new deals (rows made by :func:`new_deal`) and their ``created`` events in the caller's
    unit of work, however many there are: the deals in a few multi-row INSERTs, their events in one
    ``INSERT … SELECT`` from the deals just written. Returns the new ids, in order.

    Each event holds the deal's initial state (:func:`opp.core.pipeline.codec.snapshot_sql`), so that
    history alone can rebuild the deal at any instant, and happens when the deal was created. The
    database writes them from the rows themselves: for a bulk import, building a JSON text and an
    event row a deal in Python took a fifth of its time.

    The caller has checked the deals (:func:`new_deal` takes validated values) and that their external
    refs are free.
    """
    ids = insert_returning_ids(uow.conn, o, deals)
    if not ids:
        return ids
    # Ids in one unbroken run (SQLite's always are, see insert_returning_ids) leave no room for
    # another's deal between them; otherwise (PostgreSQL, beside other writers) the ids are named.
    unbroken = ids[-1] - ids[0] + 1 == len(ids)
    written = o.c.id.between(ids[0], ids[-1]) if unbroken else o.c.id.in_(ids)
    snapshot = snapshot_sql(uow.conn.dialect.name, o, {deal["currency"] for deal in deals})
    events = select(
        o.c.id,
        literal(uow.command_id()),
        o.c.created_at,
        literal(uow.actor),
        literal("created"),
        snapshot,
    ).where(written)
    columns = ["opportunity_id", "command_id", "at", "actor", "action", "new"]
    uow.conn.execute(insert(schema.history).from_select(columns, events.order_by(o.c.id)))
    uow.note_deals(ids)
    return ids


def lock_deal(conn: Connection, deal_id: int, *, deleted: bool = False) -> RowMapping:
    """The deal's row, locked for this transaction; a deleted deal is not found unless ``deleted``."""
    row = conn.execute(select(o).where(o.c.id == deal_id).with_for_update()).mappings().first()
    if row is None or (row["status"] == DELETED and not deleted):
        raise _no_such_deal(deal_id)
    return row


def delete_deals(ctx: Context, deal_ids: Iterable[int | str]) -> list[Opportunity]:
    """Delete deals, all or none; returns them as they were. A deal on an issued invoice is refused
    (Conflict): an invoice is final. The row stays, with status ``deleted`` (every listing leaves it
    out) and its external reference freed for another deal; its history stays too, closed by a
    ``deleted`` event per changed field, so ``--as-of`` an earlier day still sees it and ``opp undo``
    brings it back. Its billable lines stay with it, hidden, and come back with it."""
    wanted = list(dict.fromkeys(parse_ids(deal_ids)))
    if not wanted:
        raise Invalid("no opportunity to delete", reason="ids-needed")
    inv = schema.invoices
    with ctx.unit_of_work("delete") as uow:
        found = fetch_deals(uow.conn, wanted)
        for deal_id in wanted:
            row = lock_deal(uow.conn, deal_id)
            number = uow.conn.execute(
                select(inv.c.number).where(inv.c.opportunity_id == deal_id).order_by(inv.c.id).limit(1)
            ).scalar()
            if number is not None:
                raise Conflict(
                    f"opportunity {deal_id} is on invoice {number}, and an issued invoice is final",
                    reason="invoiced",
                )
            values: dict[str, Any] = {"status": DELETED}
            changes = [FieldChange("status", row["status"], DELETED)]
            if row["external_ref"] is not None:
                values["external_ref"] = None
                changes.append(FieldChange("external_ref", row["external_ref"], None))
            write_deal(uow, row, values, changes, action="deleted")
    return found


def _changed_since(conn: Connection, deal_id: int, seen: int, now: int) -> Conflict:
    last = conn.execute(
        select(schema.history.c.actor, schema.history.c.at)
        .where(schema.history.c.opportunity_id == deal_id)
        .order_by(schema.history.c.id.desc())
        .limit(1)
    ).first()
    who = f"{last.actor} at {format_instant(last.at)}" if last is not None else "someone"
    return Conflict(
        f"opportunity {deal_id} is at version {now}, not {seen}: it was changed since by {who}",
        hint="look at the deal again and try again",
        reason="changed-meanwhile",
        details={"deal": deal_id},
    )


def check_version(conn: Connection, row: RowMapping, seen: int | None) -> None:
    """Refuse a change made on a stale copy: ``seen`` is the version the caller last saw (None: no
    check), ``row`` the deal as locked. The refusal names who changed it since."""
    if seen is not None and row["version"] != seen:
        raise _changed_since(conn, row["id"], seen, row["version"])


def _one_deal_for(ids: Sequence[int], if_version: int | None) -> None:
    if if_version is not None and len(ids) != 1:
        raise Invalid("a version check covers one opportunity at a time")


def edit_deal(
    ctx: Context,
    deal_id: int | str,
    *,
    title: str | None = None,
    value: str | None = None,
    currency: str | None = None,
    probability: str | None = None,
    close: str | None = None,
    description: str | None = None,
    ref: str | None = None,
    value_from_billables: bool = False,
    reason: str | None = None,
    if_version: int | None = None,
    set_fields: Iterable[str] = (),
) -> Opportunity:
    """Change the given fields (``""`` clears an optional one); one ``updated`` event per changed field.

    ``set_fields`` are custom field values, ``NAME=VALUE`` (``NAME=`` clears), see opp.core.fields.

    ``reason`` is a lost deal's lost reason; a deal that is not lost has none (Conflict).

    ``if_version`` is the version the caller last saw: if the deal changed since, nothing is written
    and the refusal names who changed it (a script's guard against overwriting another operator).

    ``value_from_billables`` sets the value to the deal's billable lines' subtotal (before tax). A deal
    with billable lines keeps its currency, the lines' currency.
    """
    from opp.core.billing import billables

    wanted = parse_id(deal_id)
    if value_from_billables and (value is not None or currency is not None):
        raise Invalid(
            "the value comes either from the billable lines or as given, not both",
            reason="value-from-billables",
        )
    lost_reason = clean_reason(reason, what="reason", required=True) if reason is not None else None
    from opp.core import fields as custom

    assignments = custom.parse_assignments(set_fields)
    with ctx.unit_of_work("edit") as uow:
        row = lock_deal(uow.conn, wanted)
        check_version(uow.conn, row, if_version)
        change = DealChange(uow, row)
        if title is not None:
            change.set("title", clean_title(title))
        if description is not None:
            change.set("description", clean_description(description))
        if ref is not None:
            new_ref = clean_ref(ref)
            check_ref_free(uow.conn, new_ref, wanted)
            change.set("external_ref", new_ref)
        code = normalize_currency(currency) if currency is not None else row["currency"]
        change.currency(code)
        if value_from_billables:
            change.value(billables.value_from_billables(uow.conn, wanted))
        elif value is not None:
            change.value(to_minor(parse_amount(value, code), code))
        else:
            try:
                change.value()  # the value it has, in the new currency
            except Invalid as exc:
                exc.hint, exc.reason = "give the value as well", "value-needed"
                raise
        if probability is not None:
            change.probability(parse_probability(probability))
        if close is not None:
            change.set("expected_close", _parse_close(close, ctx))
        if lost_reason is not None:
            _set_lost_reason(uow.conn, change, lost_reason)
        for custom_change in custom.write_values(uow.conn, "deal", wanted, assignments, ctx.clock.today()):
            change.changes.append(FieldChange(custom_change.field, custom_change.old, custom_change.new))
        change.write(action="updated", note="value from billables" if value_from_billables else None)
        return fetch_deals(uow.conn, [wanted])[0]


def _set_lost_reason(conn: Connection, change: DealChange, reason: str) -> None:
    """Give the deal a new lost reason where it stands: the stage rules keep one on a lost deal only,
    and a deal in another stage conflicts with the reason (it is not bad input)."""
    try:
        change.stage(load_pipeline(conn).get(change.row["stage"]), lost_reason=reason)
    except Invalid as exc:
        raise Conflict(
            f"opportunity {change.row['id']}: {exc.message}", hint="only a lost deal has a lost reason"
        ) from exc


def move_deals(
    ctx: Context,
    stage: str,
    deal_ids: Iterable[int | str],
    *,
    probability: str | None = None,
    reason: str | None = None,
    force: bool = False,
    reopen: bool = False,
    if_version: int | None = None,
) -> list[Opportunity]:
    """Move deals to a stage under the pipeline rules: all of them, or (on any refusal) none.

    ``if_version`` (one deal only) is the version the caller last saw, as for :func:`edit_deal`."""
    ids = parse_ids(deal_ids)
    _one_deal_for(ids, if_version)
    chance = parse_probability(probability) if probability is not None else None
    lost_reason = clean_reason(reason, what="reason")
    with ctx.unit_of_work("stage") as uow:
        pipeline = load_pipeline(uow.conn)
        target = pipeline.get(stage)
        if lost_reason is not None and target.kind != "lost":
            raise Invalid(
                "a lost reason applies only to a move to closed-lost", reason="reason-only-when-lost"
            )
        for deal_id in ids:
            row = lock_deal(uow.conn, deal_id)
            check_version(uow.conn, row, if_version)
            try:
                move = plan_move(
                    pipeline,
                    pipeline.get(row["stage"]),
                    target,
                    probability=chance,
                    force=force,
                    reopen=reopen,
                )
            except (Invalid, Conflict) as exc:
                exc.message = f"opportunity {deal_id}: {exc.message}"
                raise
            if move is not None:
                _apply_move(uow, row, move, lost_reason)
        return fetch_deals(uow.conn, ids)


def _apply_move(uow: UnitOfWork, row: RowMapping, move: Move, lost_reason: str | None) -> None:
    change = DealChange(uow, row)
    change.stage(move.target, probability=move.probability, lost_reason=lost_reason)
    change.write(action="stage", note=move.note)


def _reassign(
    ctx: Context,
    deal_ids: Iterable[int | str],
    handle: str | None,
    *,
    command: str,
    claim: bool = False,
    if_version: int | None = None,
) -> list[Opportunity]:
    """Set (or clear) the assignee of each deal; a claim refuses deals someone else holds.
    ``if_version`` (one deal only) refuses a change to a deal changed since (see :func:`edit_deal`)."""
    ids = parse_ids(deal_ids)
    _one_deal_for(ids, if_version)
    with ctx.unit_of_work(command) as uow:
        new_id = user_id(uow.conn, handle) if handle is not None else None
        for deal_id in ids:
            if if_version is not None:
                check_version(uow.conn, lock_deal(uow.conn, deal_id), if_version)
            if claim:
                _claim_one(uow, deal_id, new_id, handle or "")
                continue
            change = DealChange(uow, lock_deal(uow.conn, deal_id))
            change.assign(new_id, handle)
            change.write(action="assign")
        return fetch_deals(uow.conn, ids)


def _claim_one(uow: UnitOfWork, deal_id: int, me: int | None, handle: str) -> None:
    """One conditional UPDATE: of two operators claiming the same deal, exactly one wins."""
    result = uow.conn.execute(
        update(o)
        .where(o.c.id == deal_id, o.c.assignee_id.is_(None), o.c.status != DELETED)
        .values(assignee_id=me, updated_at=uow.at, version=o.c.version + 1)
    )
    if result.rowcount == 1:
        uow.record(deal_id, "assign", field="assignee", old=None, new=handle, note="claim")
        return
    row = uow.conn.execute(select(o.c.assignee_id).where(o.c.id == deal_id, o.c.status != DELETED)).first()
    if row is None:
        raise _no_such_deal(deal_id)
    if row.assignee_id != me:
        holder = assignee_text(uow.conn, row.assignee_id)
        raise Conflict(
            f"opportunity {deal_id} is held by {holder}",
            hint=f"ask {holder} to unassign it, or reassign it to {handle}",
            reason="held",
            details={"holder": holder, "handle": handle, "deal": deal_id},
        )


def assign_deals(
    ctx: Context, handle: str, deal_ids: Iterable[int | str], *, if_version: int | None = None
) -> list[Opportunity]:
    return _reassign(ctx, deal_ids, handle_key(handle), command="assign", if_version=if_version)


def unassign_deals(
    ctx: Context, deal_ids: Iterable[int | str], *, if_version: int | None = None
) -> list[Opportunity]:
    return _reassign(ctx, deal_ids, None, command="unassign", if_version=if_version)


def claim_deals(
    ctx: Context, deal_ids: Iterable[int | str], *, if_version: int | None = None
) -> list[Opportunity]:
    """Assign deals to the acting user, who must be a known user; held deals are refused."""
    return _reassign(ctx, deal_ids, ctx.actor, command="claim", claim=True, if_version=if_version)


def add_note(ctx: Context, deal_id: int | str, text: str, *, kind: str | None = None) -> Event:
    """Append a note (of ``kind``, default internal) to a deal's history: see opp.core.work.notes."""
    from opp.core.work.notes import add_note as add_typed_note

    return add_typed_note(ctx, deal_id, text, kind=kind)
