"""Which deals a command covers: one object for ``list``, ``export``, ``forecast``, ``pipeline``, the
reports and the insights, so that a filter means the same everywhere and ``--as-of`` is read once.

:class:`Scope` holds the options as the user gave them (text: a stage name, a user handle, a period);
:meth:`Scope.resolve` checks them against the database and the clock and gives a :class:`DealScope`
(stage keys, ids, dates, the as-of instant), whose :meth:`~DealScope.conditions` are the one place the
filters become SQL. With an as-of instant the same conditions run over the deals as they stood then
(:func:`opp.core.pipeline.asof.over`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Subquery,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    union_all,
)

from opp.core.context import Context
from opp.core.dates import close_window, day_end_exclusive, parse_date, start_of_day_utc
from opp.core.errors import Invalid
from opp.store import schema

o = schema.opportunities
cu = schema.customers

#: What ``--status`` takes; ``all`` is every status.
STATUSES = ("open", "won", "lost", "all")
#: The status of a deleted deal (``opp delete``): its row stays, for history, ``--as-of`` and undo,
#: and every scope leaves it out (even ``all``).
DELETED = "deleted"
CLOSED = ("won", "lost")
#: What a period dates a deal by: its close date (see :func:`close_date`), or when it closed or was
#: created.
Dated = Literal["close_date", "closed_at", "created_at"]


def not_deleted(deal_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the deal a record hangs on (``deal_id``: a task's, ticket's, contact's or note's deal
    column) is not deleted, as SQL (``NOT EXISTS``; a record on no deal, NULL, passes): what the
    listings around the deals (tasks, agenda, tickets, notes, timelines, support) leave out until
    ``opp undo`` brings the deal back."""
    gone = o.alias("deleted_deal")
    return ~exists().where(gone.c.id == deal_id, gone.c.status == DELETED)


def close_date(dialect_name: str, table: FromClause = o) -> ColumnElement[date]:
    """A deal's close date, as SQL: the day of its ``closed_at`` (UTC) once it is closed, else its
    expected close. Month and quarter groups use it; a filter uses :func:`close_date_between`, which
    says the same in terms the indexes on ``expected_close`` and ``status`` can serve."""
    from opp.store.dialect import date_of

    closed = func.coalesce(date_of(dialect_name, table.c.closed_at), table.c.expected_close)
    return case((table.c.status == "open", table.c.expected_close), else_=closed)


def close_date_between(
    start: date | None, end: date | None, *, only_open: bool = False, table: FromClause = o
) -> ColumnElement[bool]:
    """Whether a deal's close date (see :func:`close_date`) is within [start, end] (both days included;
    None leaves that side open). Written as "open and expected then, or closed then" rather than over
    the CASE, so that SQLite and PostgreSQL can still use the index on ``expected_close``; a closed
    deal's day is compared as instants, from the start of ``start`` to the end of ``end`` (UTC).
    ``only_open`` leaves the closed branch out (the scope covers open deals only)."""
    expected, closed = close_date_halves(start, end, table=table)
    return expected if only_open else or_(expected, closed)


def close_date_halves(
    start: date | None, end: date | None, *, table: FromClause = o
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The two halves of :func:`close_date_between`, which no deal is in both of: open and expected
    within [start, end], and closed within it."""
    expected = [table.c.status == "open"]
    expected.extend([] if start is None else [table.c.expected_close >= start])
    expected.extend([] if end is None else [table.c.expected_close <= end])
    closed = [table.c.status != "open"]
    closed.extend([] if start is None else [table.c.closed_at >= _naive(start_of_day_utc(start))])
    closed.extend([] if end is None else [table.c.closed_at < _naive(day_end_exclusive(end))])
    return and_(*expected), and_(*closed)


@dataclass
class DealScope:
    """The deals a command covers, resolved: every field that is set narrows them further.

    ``status`` is one status, ``"all"``, or several statuses. ``closed_within`` and ``created_within``
    are [start, end) instants (naive UTC, as stored). ``as_of`` answers from the deals as they stood
    before that instant (naive UTC), and ``day`` is the day the answer is for (the as-of day, else
    today): overdue on it, amounts converted as on it.
    """

    status: str | tuple[str, ...] = "open"
    stages: Sequence[str] = ()
    assignee_id: int | None = None
    unassigned: bool = False
    customer_id: int | None = None
    close_from: date | None = None
    close_to: date | None = None
    closed_within: tuple[datetime | None, datetime | None] | None = None
    created_within: tuple[datetime | None, datetime | None] | None = None
    search: str | None = None
    overdue_on: date | None = None
    #: Open deals with no open task: nobody has a next step on them.
    without_task: bool = False
    as_of: datetime | None = None
    day: date | None = field(default=None, compare=False)
    #: ``--where`` conditions on custom fields, as SQL on the opportunities table (opp.core.fields).
    field_conditions: tuple[ColumnElement[bool], ...] = field(default=(), compare=False)

    def conditions(self, conn: Connection, *, period: bool = True) -> list[ColumnElement[bool]]:
        """The scope as conditions on the opportunities table (a search also needs the customers
        joined); :func:`opp.core.pipeline.asof.over` moves them onto the state at ``as_of``.
        ``period=False`` leaves the close-date window out."""
        found: list[ColumnElement[bool]] = []
        if isinstance(self.status, str):
            if self.status != "all":
                found.append(o.c.status == self.status)
            else:
                found.append(o.c.status != DELETED)
        else:
            found.append(o.c.status.in_(list(self.status)))
        if self.stages:
            found.append(o.c.stage.in_(list(self.stages)))
        if self.assignee_id is not None:
            found.append(o.c.assignee_id == self.assignee_id)
        if self.unassigned:
            found.append(o.c.assignee_id.is_(None))
        if self.customer_id is not None:
            found.append(o.c.customer_id == self.customer_id)
        if period and (self.close_from is not None or self.close_to is not None):
            found.append(close_date_between(self.close_from, self.close_to, only_open=self.status == "open"))
        for column, within in ((o.c.closed_at, self.closed_within), (o.c.created_at, self.created_within)):
            if within is not None:
                start, end = within
                found.extend([] if start is None else [column >= start])
                found.extend([] if end is None else [column < end])
        if self.overdue_on is not None:
            found.extend([o.c.status == "open", o.c.expected_close < self.overdue_on])
        if self.without_task:
            from opp.core.work.tasks import has_open_task

            found.extend([o.c.status == "open", ~has_open_task(o.c.id)])
        if self.search:
            from opp.store.search import deals_containing

            # The index knows today's text only; deals rebuilt from history are searched by a scan.
            found.append(deals_containing(conn, self.search.lower(), indexed=self.as_of is None))
        found.extend(self.field_conditions)
        return found

    def select(self, conn: Connection) -> Selection:
        """The ids of these deals, and the source they are read from (the opportunities table, or the
        deals as they stood at ``as_of``, rebuilt once for every query the command runs over them).

        A selection is what aggregates and reports add up, which read neither ``updated_at`` nor
        ``stage_changed_at``: at an instant, those two are not rebuilt for it (a listing of deals,
        which shows them, rebuilds them: opp.core.pipeline.deals)."""
        from opp.core.pipeline.asof import deal_source, over

        halves = self._period_halves(conn)
        if halves is not None:
            return Selection(halves, select(halves.c.id), self.day, self.as_of)
        source = deal_source(conn, self.as_of, times=False)
        query = select(o.c.id)
        if self.search:
            query = query.select_from(o.join(cu, cu.c.id == o.c.customer_id))
        return Selection(source, over(query.where(*self.conditions(conn)), source), self.day, self.as_of)

    def _period_halves(self, conn: Connection) -> Subquery | None:
        """On PostgreSQL, the deals of a close-date window over open and closed deals as the two
        halves of the window, open and expected then ``UNION ALL`` closed then: each half is an
        index-only scan of its covering index, where the two halves joined by OR make a bitmap scan
        that visits the table. None where that does not apply (SQLite reads both halves from their
        covering indexes already; the past state and a search read otherwise)."""
        if (
            conn.dialect.name != "postgresql"
            or self.as_of is not None
            or self.search
            or (self.close_from is None and self.close_to is None)
            or self.status == "open"
        ):
            return None
        others = self.conditions(conn, period=False)
        legs = [
            select(*o.c).where(*others, half) for half in close_date_halves(self.close_from, self.close_to)
        ]
        return union_all(*legs).subquery("deals_in_period")


@dataclass(frozen=True)
class Selection:
    """Deals selected from a source: ``deals`` selects their ids from ``source``; ``day`` is the day
    the answer is for."""

    source: FromClause
    deals: Select[Any]
    day: date | None
    #: The instant the deals are as of (naive UTC), None for now.
    as_of: datetime | None = None


@dataclass(frozen=True)
class Scope:
    """Which deals a command covers, as the user asked: None or empty leaves a filter out.

    ``status`` is a word as typed (open, won, lost or all) or the statuses a command always covers;
    without it, open deals, or every status when stages are named (deals in these stages, closed ones
    included). ``period`` and ``close_from``/``close_to`` date deals by ``dated`` (the close date, see
    :func:`close_date`, unless a report dates them by when they closed or were created); relative
    dates count from today.
    ``overdue`` keeps the open deals whose expected close has passed. ``as_of`` (a date) answers from
    the deals as they stood at the end of that day (UTC), and overdue then means overdue on that day.
    ``where`` are conditions on custom fields (``region=EMEA``, ``amount>=5000``; all must hold; see
    opp.core.fields for what each operator means, an unset value included); with ``as_of`` they are
    read as the fields stood then.
    """

    status: str | tuple[str, ...] | None = None
    stages: Sequence[str] = ()
    assignee: str | None = None
    unassigned: bool = False
    customer: str | None = None
    period: str | None = None
    close_from: str | None = None
    close_to: str | None = None
    dated: Dated = "close_date"
    search: str | None = None
    overdue: bool = False
    without_task: bool = False
    as_of: str | None = None
    where: Sequence[str] = ()

    def resolve(self, conn: Connection, ctx: Context) -> DealScope:
        """Check every option and turn it into what the database holds (stage keys, user and customer
        ids, days and instants); the first bad one is refused."""
        from opp.core.pipeline.customers import resolve_customer
        from opp.core.pipeline.users import user_id

        stage_keys: list[str] = []
        if self.stages:
            from opp.core.pipeline.stages import load_pipeline

            pipeline = load_pipeline(conn)
            stage_keys = [pipeline.get(stage).key for stage in self.stages]
        status = _status(self.status, named_stages=bool(stage_keys))
        if self.assignee is not None and self.unassigned:
            raise Invalid(
                "give either an assignee or unassigned deals, not both", reason="assignee-and-unassigned"
            )
        today = ctx.clock.today()
        start, end = close_window(self.period, self.close_from, self.close_to, today)
        instant, day = None, today
        if self.as_of is not None:
            from opp.core.pipeline.asof import as_of_instant

            instant, day = as_of_instant(self.as_of, today), parse_date(self.as_of, today)
        scope = DealScope(
            status=status,
            stages=stage_keys,
            assignee_id=user_id(conn, self.assignee) if self.assignee is not None else None,
            unassigned=self.unassigned,
            customer_id=resolve_customer(conn, self.customer).id if self.customer is not None else None,
            search=self.search or None,
            overdue_on=day if self.overdue else None,
            without_task=self.without_task,
            as_of=instant,
            day=day,
        )
        if self.where:
            from opp.core.fields import where_condition, where_list

            scope.field_conditions = tuple(
                where_condition(conn, condition, today, instant) for condition in where_list(self.where)
            )
        if self.dated == "close_date":
            scope.close_from, scope.close_to = start, end
        elif start is not None or end is not None:
            within = (  # from the start of the first day to the end of the last, as instants are stored
                None if start is None else _naive(start_of_day_utc(start)),
                None if end is None else _naive(day_end_exclusive(end)),
            )
            if self.dated == "closed_at":
                scope.closed_within = within
            else:
                scope.created_within = within
        return scope


def scope_of(scope: Scope | None = None, **filters: Any) -> Scope:
    """The scope a core function was asked for: a :class:`Scope`, or its fields as keywords (handy in a
    script: ``list_deals(ctx, status="all")``); keywords given beside a scope replace its fields."""
    if scope is None:
        return Scope(**filters)
    return replace(scope, **filters) if filters else scope


def _status(given: str | tuple[str, ...] | None, *, named_stages: bool) -> str | tuple[str, ...]:
    if given is None:
        # Naming stages means "deals in these stages", closed ones included.
        return "all" if named_stages else "open"
    if not isinstance(given, str):
        return tuple(given)
    status = given.strip().lower()
    if status not in STATUSES:
        raise Invalid(f"unknown status {status!r}", hint="use open, won, lost or all")
    return status


def _naive(instant: datetime) -> datetime:
    return instant.replace(tzinfo=None)
