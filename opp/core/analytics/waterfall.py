"""The pipeline waterfall: how the open pipeline of a close-date window went from one day to another.

Start is the open deals at the end of day D0 (as ``--as-of D0`` sees them) whose close date falls in the
window P (every open deal when no window is given); End is the same at the end of D1. Each deal of
either side lands in exactly one step:

- in both: ``increased`` or ``decreased`` by its change (an unchanged deal is in no step);
- only in Start: ``won`` or ``lost`` (closed by D1), ``pushed`` (still open, its close date moved out of
  P), or ``removed`` (no longer there at D1: deleted with ``opp delete`` by then);
- only in End: ``created`` (created after D0), ``pulled-in`` (open at D0 with its close date outside P)
  or ``reopened`` (closed at D0).

A step's value is signed: what it added is positive, what it took away negative. Both states are
rebuilt from history in SQL (:mod:`opp.core.pipeline.asof`) and each deal is converted in it at the
rate in force on its close date in that state, rounded once to the minor unit, so every figure is an
integer sum and Start + Σ steps = End exactly. The measure is the deal's value or its forecast
(value × probability at that state, rounded as in ``opp forecast``).

Split ``by`` assignee or stage, a deal counts in the group it is in at D1 when it is in End, else in
the group it was in at D0, so each group's Start + Σ steps = End as well and the groups add up to the
whole. The same rule chooses the deals of one assignee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RowMapping,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
    union,
)

from opp.core.analytics.forecast import reporting_currency
from opp.core.context import Context
from opp.core.dates import Period, day_end_exclusive, parse_date, parse_period
from opp.core.errors import Invalid
from opp.core.fields import Defined
from opp.core.money.amounts import from_minor
from opp.core.money.rates import conversion
from opp.core.pipeline.scope import DELETED
from opp.core.pipeline.users import user_id
from opp.core.records import Record
from opp.store import schema

o = schema.opportunities
h = schema.history
us = schema.users

#: The steps in the order they are listed (every one, even when zero).
STEPS = ("increased", "decreased", "won", "lost", "pushed", "removed", "created", "pulled-in", "reopened")
MEASURES = ("value", "forecast")
GROUPINGS = ("assignee", "stage")
#: From how many deals (by the highest id) the narrow waterfall reads its two halves side by side.
#: Below, a second thread and its paired transaction cost more than the half of the reading they
#: spare (at 10k deals 0.24 against 0.14 s, at 100k 0.33 against 0.27 s; at 1M 1.3 against 1.5 s).
HALVES_FROM_DEALS = 250_000


@dataclass(frozen=True)
class Figure(Record):
    count: int
    value: Decimal


@dataclass(frozen=True)
class Step(Record):
    step: str
    count: int
    value: Decimal


@dataclass(frozen=True)
class WaterfallGroup(Record):
    """One group's waterfall (``by``): its key, then the same figures as the whole."""

    key: str | None
    start: Figure
    steps: list[Step]
    end: Figure


@dataclass(frozen=True)
class Waterfall(Record):
    currency: str
    from_day: date
    to_day: date
    start: Figure
    steps: list[Step]
    end: Figure
    #: The close-date window (its label, such as ``2026Q1``), None for every open deal.
    period: str | None = None
    measure: str = "value"
    by: str | None = None
    groups: list[WaterfallGroup] | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "currency": self.currency,
            "from": self.from_day,
            "to": self.to_day,
            "start": self.start.as_dict(),
            "steps": [step.as_dict() for step in self.steps],
            "end": self.end.as_dict(),
            "period": self.period,
            "measure": self.measure,
        }
        if self.groups is not None:
            found["by"] = self.by
            found["groups"] = [group.as_dict() for group in self.groups]
        return found

    def rows(self) -> list[dict[str, Any]]:
        """The waterfall as table rows: start, each step, end (per group first when split)."""
        rows: list[dict[str, Any]] = []
        parts: list[tuple[str | None, Figure, list[Step], Figure]] = [
            (group.key, group.start, group.steps, group.end) for group in self.groups or []
        ]
        if self.groups is not None:
            parts.append(("total", self.start, self.steps, self.end))
        else:
            parts.append((None, self.start, self.steps, self.end))
        for key, start, steps, end in parts:
            keyed = {"key": key} if self.groups is not None else {}
            rows.append({**keyed, "step": "start", **start.as_dict()})
            rows += [{**keyed, **step.as_dict()} for step in steps]
            rows.append({**keyed, "step": "end", **end.as_dict()})
        return rows


@dataclass(frozen=True)
class Move(Record):
    """A deal that moved (``--detail``): its step, its measure on each side (null where it is not in
    that side) and the signed change."""

    id: int
    title: str
    step: str
    from_value: Decimal | None
    to_value: Decimal | None
    change: Decimal


@dataclass(frozen=True)
class GroupedMove(Move):
    key: str | None = None


def _naive(instant: datetime) -> datetime:
    return instant.replace(tzinfo=None)


def _instant(day: date) -> datetime:
    return _naive(day_end_exclusive(day))


def _states(
    conn: Connection,
    first: date,
    last: date,
    window: Period | None,
    split: _Split | None = None,
    titles: bool = True,
) -> tuple[FromClause, FromClause]:
    """The deals of either side as they stood at the end of ``first`` and at the end of ``last``.

    Only the deals that matter are kept, each state in a temporary table keyed by id (see
    :func:`opp.core.pipeline.asof.materialize`): the deals in the window on that day, and the deals in
    the window on the other day (to tell a pushed deal from a won one, a created deal from a pulled-in
    one). Reading those few from each state, by the index on the close date and by id, spares copying
    every deal's past state to join the two. With ``split``, of the deals that may have moved alone,
    and their titles only when ``titles`` (the figures read no other text, nor the customer).
    """
    from opp.core.pipeline.asof import deal_source, deals_among, materialize

    if split is None:
        then, now = deal_source(conn, _instant(first)), deal_source(conn, _instant(last))
    else:
        # The waterfall reads neither updated_at nor stage_changed_at.
        then = deals_among(
            conn, _instant(first), split.moved, times=False, events=split.events, descriptive=titles
        )
        now = deals_among(conn, _instant(last), split.moved, times=False, descriptive=titles)
    ending = select(now.c.id).where(_in_window(now, window))
    start = materialize(
        conn, select(then).where(or_(_in_window(then, window), then.c.id.in_(ending))).subquery("start_state")
    )
    starting = select(start.c.id).where(_in_window(start, window))
    end = materialize(
        conn, select(now).where(or_(_in_window(now, window), now.c.id.in_(starting))).subquery("end_state")
    )
    return start, end


@dataclass(frozen=True)
class _Part:
    """One of ``count`` parts the deals are parted into by id: those whose id leaves ``index`` divided
    by ``count``."""

    count: int
    index: int

    def holds(self, ids: ColumnElement[Any]) -> ColumnElement[bool]:
        return ids % self.count == self.index


@dataclass(frozen=True)
class _Split:
    """A windowed waterfall parted in two (see :func:`_split`): the deals that may have moved, and the
    steady ones."""

    moved: Select[Any]
    steady: Select[Any]
    #: The moved deals' events since D0 (:func:`opp.core.pipeline.asof.keep_events_since`).
    events: FromClause


def _split(conn: Connection, first: date, window: Period, part: _Part | None = None) -> _Split:
    """The deals that may have moved, and the deals in the window that cannot have, from D0 on.

    A deal is in a side when it is open with its close date in the window at that instant, and its
    close date at an instant from D0 on is either the one it has now or the old side of one of its
    ``expected_close`` events since D0 (what :mod:`opp.core.pipeline.asof` rebuilds). So only the deals
    in the window now, and those moved out of it since D0, can be in either side. Of those, a deal
    created before D0 and changed by no event since (in any field a state is rebuilt from) is the same
    at both instants as now: if it is open it is in both sides with the same figure, in no step. Only
    the others ("moved") need their past states rebuilt; the steady ones are summed as they are now.
    Reads the events since D0 from the index on history's field and instant, once: the moved deals'
    events are kept for :func:`_states` to rebuild them from. A deal created since D0 is found by its
    ``created`` event, which is written at the deal's ``created_at``: so no question here reads a deal's
    row, and the steady deals' figures can come from an index on the close date that holds them.
    """
    from opp.core.pipeline.asof import keep_events_since, keep_ids
    from opp.core.pipeline.codec import column_sql

    since = _instant(first)
    is_in: ColumnElement[bool] = o.c.expected_close.between(window.start, window.end)
    was_in = select(h.c.opportunity_id).where(
        h.c.field == "expected_close",
        h.c.at >= since,
        column_sql(conn.dialect.name, "expected_close", h.c.old).between(window.start, window.end),
    )
    if part is not None:  # this part's deals alone (the moved ones are among these, the steady too)
        is_in = and_(is_in, part.holds(o.c.id))
        was_in = was_in.where(part.holds(h.c.opportunity_id))
    # The deals in the window now and those moved out of it since D0, a few of all, kept as a table
    # each event since D0 is checked against. The events since D0 are read once (by the index on field
    # and instant), for those deals alone: their ids are the deals edited since, and the same rows
    # rebuild those deals' states at D0 (:func:`_states`).
    candidates = select(keep_ids(conn, select(o.c.id).where(is_in), was_in).c.id)
    # A part's test of the event's deal id is cheaper than looking the id up among the candidates: of
    # the events since D0, the other part's are left out before that look-up.
    ours = [] if part is None else [part.holds(h.c.opportunity_id)]
    events = keep_events_since(conn, since, candidates, *ours)
    # ``+ 0``: the created events since D0 come from the index on field and instant, not the deal's.
    created = select(h.c.opportunity_id).where(
        h.c.field.is_(None),
        h.c.at >= since,
        h.c.action == "created",
        *ours,
        (h.c.opportunity_id + 0).in_(candidates),
    )
    moved = keep_ids(conn, select(events.c.deal_id), created, was_in)
    # A deal in the window now that changed since D0 is among the moved ones (one moved out and back
    # has an expected_close event since D0 too), so the steady ones are the others.
    steady = select(o.c.id).where(o.c.status == "open", is_in, o.c.id.not_in(select(moved.c.id)))
    return _Split(moved=select(moved.c.id), steady=steady, events=events)


def _in_window(state: FromClause, window: Period | None) -> ColumnElement[bool]:
    """Open, with its close date (an open deal's expected close) in the window."""
    if window is None:
        return state.c.status == "open"
    return and_(state.c.status == "open", state.c.expected_close.between(window.start, window.end))


@dataclass(frozen=True)
class _Query:
    """The members of either side joined to both states, with each one's step and measures."""

    source: FromClause
    id: ColumnElement[Any]
    title: ColumnElement[Any]
    in_start: ColumnElement[bool]
    in_end: ColumnElement[bool]
    start_amount: ColumnElement[Any]
    end_amount: ColumnElement[Any]
    step: ColumnElement[Any]
    group_id: ColumnElement[Any] | None
    key: ColumnElement[Any] | None
    currency: str
    #: The steady deals' rows (a windowed waterfall parted in two, see :func:`_split`), else None.
    steady: list[RowMapping] | None = None
    #: The custom field the waterfall is split by, if it is.
    field: Defined | None = None


def _days(ctx: Context, from_day: str, to_day: str | None) -> tuple[date, date]:
    today = ctx.clock.today()
    first = parse_date(from_day, today)
    last = parse_date(to_day, today) if to_day is not None else today
    if first > last:
        raise Invalid(
            f"the waterfall's start day {first.isoformat()} is after its end day {last.isoformat()}",
            hint="give the earlier day first",
        )
    return first, last


def _choice(text: str | None, allowed: tuple[str, ...], what: str, default: str | None) -> str | None:
    if text is None:
        return default
    wanted = text.strip().lower()
    if wanted not in allowed:
        raise Invalid(f"unknown {what} {text!r}", hint=f"{what}s are " + ", ".join(allowed))
    return wanted


def _build(
    conn: Connection,
    first: date,
    last: date,
    window: Period | None,
    measure: str,
    by: str | None,
    currency: str | None,
    assignee: str | None,
    narrow: bool = True,
    where: Sequence[str] | None = None,
    today: date | None = None,
    part: _Part | None = None,
    titles: bool = True,
) -> _Query:
    split = _split(conn, first, window, part) if narrow and window is not None else None
    start, end = _states(conn, first, last, window, split, titles)
    starting = select(start.c.id).where(_in_window(start, window))
    ending = select(end.c.id).where(_in_window(end, window))
    members = union(starting, ending).subquery("members")
    present = [starting.with_only_columns(start.c.currency), ending.with_only_columns(end.c.currency)]
    if split is not None:
        present.append(split.steady.with_only_columns(o.c.currency))
    code = reporting_currency(conn, currency, present)
    then = conversion(conn, starting, code, today=first, source=start)
    now = conversion(conn, ending, code, today=last, source=end)
    in_start = and_(start.c.id.is_not(None), _in_window(start, window))
    in_end = and_(end.c.id.is_not(None), _in_window(end, window))
    start_amount = case((in_start, getattr(then, measure)), else_=0)
    end_amount = case((in_end, getattr(now, measure)), else_=0)
    change = end_amount - start_amount
    step = case(
        (and_(in_start, in_end, change > 0), literal("increased", String)),
        (and_(in_start, in_end, change < 0), literal("decreased", String)),
        (and_(in_start, in_end), null()),
        (and_(in_start, or_(end.c.id.is_(None), end.c.status == DELETED)), literal("removed", String)),
        (and_(in_start, end.c.status == "won"), literal("won", String)),
        (and_(in_start, end.c.status == "lost"), literal("lost", String)),
        (in_start, literal("pushed", String)),
        (start.c.id.is_(None), literal("created", String)),
        (start.c.status == "open", literal("pulled-in", String)),
        else_=literal("reopened", String),
    )
    source: FromClause = members.outerjoin(start, start.c.id == members.c.id).outerjoin(
        end, end.c.id == members.c.id
    )
    # A deal counts where it is at D1 when it is in End, else where it was at D0.
    assignee_id = case((in_end, end.c.assignee_id), else_=start.c.assignee_id)
    key: ColumnElement[Any] | None = None
    if by == "stage":
        key = case((in_end, end.c.stage), else_=start.c.stage)
    elif by == "assignee":
        source = source.outerjoin(us, us.c.id == assignee_id)
        key = us.c.handle
    field = None
    if by is not None and by not in GROUPINGS:
        from opp.core.fields import group_key

        sides = []
        for state, day, alias in ((start, first, "start_field"), (end, last, "end_field")):
            found = group_key(conn, by, state, _instant(day), alias=alias)
            assert found is not None  # the caller checked the name
            field, side_key, joins = found
            for rows, on in joins:
                source = source.outerjoin(rows, on)
            sides.append(side_key)
        key = case((in_end, sides[1]), else_=sides[0])
    group_id = None
    chosen_user = None if assignee is None else user_id(conn, assignee)
    if chosen_user is not None:
        group_id = assignee_id == chosen_user
    if where:
        from opp.core.fields import where_sql

        holds_then = and_(*where_sql(conn, where, today or last, as_of=_instant(first), source=start))
        holds_now = and_(*where_sql(conn, where, today or last, as_of=_instant(last), source=end))
        holds = case((in_end, holds_now), else_=holds_then)
        group_id = holds if group_id is None else and_(group_id, holds)
    steady = None
    if split is not None:
        steady = _steady(conn, split.steady, code, last, measure, by, chosen_user)
    return _Query(
        source=source,
        id=members.c.id,
        title=case((in_end, end.c.title), else_=start.c.title),
        in_start=in_start,
        in_end=in_end,
        start_amount=start_amount,
        end_amount=end_amount,
        step=step,
        group_id=group_id,
        key=key,
        currency=code,
        steady=steady,
        field=field,
    )


def _steady(
    conn: Connection,
    deals: Select[Any],
    code: str,
    last: date,
    measure: str,
    by: str | None,
    user: int | None,
) -> list[RowMapping]:
    """The steady deals' figures (see :func:`_split`) in the rows of the waterfall's own query: in both
    sides with the same figure, in no step, grouped where they are now. Converted in one read of
    them where it can be (:func:`opp.core.money.rates.converted_rows`)."""
    from opp.core.money.rates import Conversion, converted_rows

    source: FromClause = o
    key: ColumnElement[Any] | None = None
    if by == "stage":
        key = o.c.stage
    elif by == "assignee":
        source = o.outerjoin(us, us.c.id == o.c.assignee_id)
        key = us.c.handle
    if user is not None:
        deals = deals.where(o.c.assignee_id == user)

    def figures(measures: Conversion) -> Select[Any]:
        count = func.count()
        total = func.coalesce(func.sum(getattr(measures, measure)), 0)
        query = deals.with_only_columns(
            *([] if key is None else [key.label("key")]),
            null().label("step"),
            count.label("count"),
            count.label("start_count"),
            count.label("end_count"),
            total.label("start_minor"),
            total.label("end_minor"),
        ).select_from(source)
        return query if key is None else query.group_by(key)

    return list(converted_rows(conn, deals, code, figures, today=last)[1])


def _filtered(query: Select[Any], built: _Query) -> Select[Any]:
    return query if built.group_id is None else query.where(built.group_id)


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _group(key: str | None, rows: list[RowMapping], code: str) -> WaterfallGroup:
    start_count = sum(row["start_count"] for row in rows)
    end_count = sum(row["end_count"] for row in rows)
    start_minor = sum(int(row["start_minor"]) for row in rows)
    end_minor = sum(int(row["end_minor"]) for row in rows)
    # The rows of a split waterfall hold each step once per group: the whole adds them up.
    counts = dict.fromkeys(STEPS, 0)
    changes = dict.fromkeys(STEPS, 0)
    for row in rows:
        if row["step"] is not None:
            counts[row["step"]] += row["count"]
            changes[row["step"]] += int(row["end_minor"]) - int(row["start_minor"])
    steps = [Step(name, counts[name], from_minor(changes[name], code)) for name in STEPS]
    return WaterfallGroup(
        key,
        Figure(start_count, from_minor(start_minor, code)),
        steps,
        Figure(end_count, from_minor(end_minor, code)),
    )


def waterfall(
    ctx: Context,
    *,
    from_day: str,
    to_day: str | None = None,
    period: str | None = None,
    measure: str | None = None,
    by: str | None = None,
    currency: str | None = None,
    assignee: str | None = None,
    detail: bool = False,
    narrow: bool = True,
    where: Sequence[str] | None = None,
    halves: bool = True,
) -> Waterfall | list[Move]:
    """The waterfall from the end of ``from_day`` to the end of ``to_day`` (today when not given) over
    the close-date window ``period`` (see the module's docstring); with ``detail``, the deals that
    moved instead, in step order then by id. ``by`` may name a custom field, and ``where`` keeps the
    deals whose custom fields hold; both read a deal's fields where it is counted: at the end when it
    is in the window then, else at the start.

    With a window, only the deals that may have moved since ``from_day`` have their past states
    rebuilt, the others are summed as they are (see :func:`_split`); ``narrow=False`` rebuilds every
    deal's states instead, the slow way, which a test checks gives the same answer. A waterfall split
    by a custom field or narrowed by ``where`` takes the slow way: the steady deals' sums do not read
    field values. The narrow way reads its deals in two halves side by side, on a database of
    :data:`HALVES_FROM_DEALS` deals or more, unless ``halves`` is False (for a caller that already runs
    it beside other work)."""
    from opp.core.analytics.forecast import chosen_currency

    first, last = _days(ctx, from_day, to_day)
    window = parse_period(period, ctx.clock.today()) if period is not None else None
    chosen_measure = _choice(measure, MEASURES, "measure", "value") or "value"
    with ctx.reading() as conn:
        chosen_by = by.strip().lower() if by is not None and _is_field(conn, by) else None
        if chosen_by is None:
            chosen_by = _choice(by, GROUPINGS, "grouping", None)
        narrow = narrow and not where and (chosen_by is None or chosen_by in GROUPINGS)
        fixed = chosen_currency(conn, currency)
        order = _stage_order(conn) if chosen_by == "stage" else {}
        halves = halves and (conn.execute(select(func.max(o.c.id))).scalar() or 0) >= HALVES_FROM_DEALS

    def answer(conn: Connection, part: _Part | None) -> tuple[_Query, list[Any]]:
        """This part's deals' rows of the waterfall (or moves, with ``detail``); every deal's when
        ``part`` is None."""
        built = _build(
            conn,
            first,
            last,
            window,
            chosen_measure,
            chosen_by,
            currency,
            assignee,
            narrow,
            where,
            ctx.clock.today(),
            part,
            titles=detail,
        )
        return built, _moves(conn, built) if detail else _rows(conn, built)

    # Parted by id into two halves read side by side over one snapshot (see
    # Context.reading_side_by_side): every figure is a sum over deals, and each deal's is worked out
    # from its own history, so the halves' rows add up to the whole's. Only where the currency is
    # known before reading the deals (the deals' one currency could differ between the halves).
    if halves and narrow and window is not None and fixed is not None:
        (built, rows), (_, more) = ctx.reading_side_by_side(
            lambda one: answer(one, _Part(2, 0)), lambda other: answer(other, _Part(2, 1))
        )
        rows += more
        if detail:
            rows.sort(key=lambda move: (STEPS.index(move.step), move.id))
    else:
        with ctx.reading() as conn:
            built, rows = answer(conn, None)
    if detail:
        return rows
    code = built.currency
    whole = _group(None, rows, code)
    groups = None
    if built.key is not None:
        keys = sorted({row["key"] for row in rows}, key=lambda key: (key is None, key or ""))
        if order:
            keys.sort(key=lambda key: order.get(key or "", len(order)))
        if built.field is not None:
            from opp.core.fields import key_order

            field = built.field
            keys.sort(key=lambda key: key_order(field, key))
        groups = [_group(key, [row for row in rows if row["key"] == key], code) for key in keys]
    return Waterfall(
        currency=code,
        from_day=first,
        to_day=last,
        start=whole.start,
        steps=whole.steps,
        end=whole.end,
        period=window.label if window is not None else None,
        measure=chosen_measure,
        by=chosen_by,
        groups=groups,
    )


def _rows(conn: Connection, built: _Query) -> list[RowMapping]:
    """The waterfall's rows: per group (when split) and step, the count and the sums at either end."""
    keyed = [] if built.key is None else [built.key.label("key")]
    query = (
        select(
            *keyed,
            built.step.label("step"),
            func.count().label("count"),
            _count_where(built.in_start).label("start_count"),
            _count_where(built.in_end).label("end_count"),
            func.coalesce(func.sum(built.start_amount), 0).label("start_minor"),
            func.coalesce(func.sum(built.end_amount), 0).label("end_minor"),
        )
        .select_from(built.source)
        .group_by(*([] if built.key is None else [built.key]), built.step)
    )
    rows = list(conn.execute(_filtered(query, built)).mappings())
    return rows + (built.steady or [])


def _is_field(conn: Connection, name: str) -> bool:
    """Whether ``name`` is a custom field (one of the groupings' names is never one)."""
    from opp.core.fields import cf

    return conn.execute(select(cf.c.id).where(cf.c.name == name.strip().lower())).first() is not None


def _stage_order(conn: Connection) -> dict[str, int]:
    from opp.core.pipeline.stages import load_pipeline

    return {stage.key: index for index, stage in enumerate(load_pipeline(conn).stages)}


def _moves(conn: Connection, built: _Query) -> list[Move]:
    order = case({name: index for index, name in enumerate(STEPS)}, value=built.step)
    keyed = [] if built.key is None else [built.key.label("key")]
    query = (
        select(
            built.id.label("id"),
            built.title.label("title"),
            built.step.label("step"),
            built.in_start.label("in_start"),
            built.in_end.label("in_end"),
            built.start_amount.label("start_minor"),
            built.end_amount.label("end_minor"),
            *keyed,
        )
        .select_from(built.source)
        .where(built.step.is_not(None))
        .order_by(order, built.id)
    )
    code = built.currency
    moves: list[Move] = []
    for row in conn.execute(_filtered(query, built)):
        start_minor, end_minor = int(row.start_minor), int(row.end_minor)
        figures = (
            row.id,
            row.title,
            row.step,
            from_minor(start_minor, code) if row.in_start else None,
            from_minor(end_minor, code) if row.in_end else None,
            from_minor(end_minor - start_minor, code),
        )
        moves.append(GroupedMove(*figures, key=row.key) if built.key is not None else Move(*figures))
    return moves
