"""The weekly review: the manager's page, one section per question asked in the pipeline meeting.

Each section is what its own command gives, computed by that command's core function with the same
assignee and reporting currency: ``pipeline`` (``opp pipeline``), ``forecast`` (``opp forecast --by
category``), ``attainment`` (``opp report attainment``), ``waterfall`` (``opp report waterfall`` from
``since`` to today over the period), ``won`` and ``lost`` (deals closed since), ``pushes`` (deals
pushed since), ``stuck``, ``overdue`` and ``overdue_tasks``. The lists hold the first
:data:`LIST_LIMIT` deals only (latest closed, longest stuck, most overdue, most pushed first), so the
page stays short on a database of millions of deals.

The page is read at one instant, in two halves side by side: the waterfall and the forecast, and the
rest. Each half has a read transaction of its own, both at one snapshot
(:meth:`opp.core.context.Context.reading_side_by_side`), and every section of a half reads through
its half's (:meth:`opp.core.context.Context.reading_at`): a deal saved while the page is made is in
every section or in none, so the sections' figures agree.

The sections that stand on forecast categories, quotas and tasks are read through
:func:`forecast_section`, :func:`attainment_section` and :func:`overdue_tasks_section` only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection

from opp.core.context import Context
from opp.core.dates import Period, parse_date, parse_period
from opp.core.errors import Invalid
from opp.core.records import Record

T = TypeVar("T")

#: How many deals each list of the review shows at most.
LIST_LIMIT = 25
#: The review's defaults: this quarter, and the week before today.
DEFAULT_PERIOD = "this-quarter"
DEFAULT_SINCE_DAYS = 7

#: The sections, in the order the page shows them.
SECTIONS = (
    "pipeline",
    "forecast",
    "attainment",
    "waterfall",
    "won",
    "lost",
    "pushes",
    "stuck",
    "overdue",
    "overdue_tasks",
)


@dataclass(frozen=True)
class Review(Record):
    period: str
    period_start: date
    period_end: date
    since: date
    today: date
    currency: str
    assignee: str | None
    pipeline: Any
    forecast: Any
    attainment: Any
    waterfall: Any
    won: list[Any]
    lost: list[Any]
    pushes: list[Any]
    stuck: list[Any]
    overdue: list[Any]
    overdue_tasks: list[Any]

    def as_dict(self) -> dict[str, Any]:
        from opp.core.values import plain

        return {field.name: plain(getattr(self, field.name)) for field in dataclasses.fields(self)}


# -- the sections that stand on other capabilities -------------------------------------------------------


def forecast_section(
    ctx: Context, period: Period, *, currency: str, assignee: str | None, where: Sequence[str] = ()
) -> Any:
    """The forecast of the period by forecast category (pipeline, best-case, commit, closed, omitted)
    with its rollups, as the forecast by category gives it."""
    from opp.core.analytics.forecast import forecast

    return forecast(
        ctx, by="category", period=period.label, currency=currency, assignee=assignee, where=where
    )


def attainment_section(
    ctx: Context, period: Period, *, currency: str, assignee: str | None, where: Sequence[str] = ()
) -> Any:
    """Attainment against quota per user and in total for the period, as the attainment report gives
    it."""
    from opp.core.analytics.attainment import attainment
    from opp.core.pipeline.scope import Scope

    return attainment(ctx, period.label, currency=currency, scope=Scope(assignee=assignee, where=where))


def overdue_tasks_section(
    ctx: Context, *, assignee: str | None, limit: int, where: Sequence[str] = ()
) -> list[Any]:
    """The open tasks past their due date, as the task list gives them (most overdue first); with
    ``where``, those of the deals whose custom fields hold."""
    import itertools

    from opp.core.work.tasks import list_tasks

    return list(itertools.islice(list_tasks(ctx, assignee=assignee, overdue=True, fields=where), limit))


# -- the review ------------------------------------------------------------------------------------------


def review_window(ctx: Context, period: str | None, since: str | None) -> tuple[Period, date, date]:
    """The period the review covers (this quarter unless given), the day it looks back to (a week ago
    unless given) and today; a day after today is refused."""
    today = ctx.clock.today()
    chosen = parse_period(period or DEFAULT_PERIOD, today)
    first = parse_date(since, today) if since is not None else today - timedelta(days=DEFAULT_SINCE_DAYS)
    if first > today:
        raise Invalid(f"the review looks back from today, and {first.isoformat()} is after today")
    return chosen, first, today


def _currency(ctx: Context, asked: str | None) -> str:
    """One currency for every section: asked, else the reporting currency, else the deals' one."""
    from sqlalchemy import select

    from opp.core.analytics.forecast import reporting_currency
    from opp.store import schema

    with ctx.reading() as conn:
        return reporting_currency(conn, asked, [select(schema.opportunities.c.currency)])


def review(
    ctx: Context,
    *,
    period: str | None = None,
    since: str | None = None,
    assignee: str | None = None,
    currency: str | None = None,
    where: Sequence[str] | None = None,
) -> Review:
    """The weekly review (see the module's docstring). ``where`` (conditions on custom fields) narrows
    every section that covers deals, as it does their own commands (the overdue tasks: those of the
    deals whose fields hold); quotas stay whole."""
    from opp.core.analytics import forecast as forecasts
    from opp.core.analytics.pushes import pushes
    from opp.core.analytics.reports import overdue, stuck
    from opp.core.analytics.waterfall import Waterfall, waterfall
    from opp.core.pipeline.deals import list_deals

    chosen, first, today = review_window(ctx, period, since)
    if assignee is not None:
        from opp.core.pipeline.users import user_id

        with ctx.reading() as conn:
            user_id(conn, assignee)
    code = _currency(ctx, currency)
    fields = tuple(where or ())

    def moving() -> tuple[Waterfall, Any]:
        """The waterfall and the forecast by category: about half the page's work at a million deals."""
        flow = waterfall(
            ctx,
            from_day=first.isoformat(),
            to_day=today.isoformat(),
            period=chosen.label,
            currency=code,
            assignee=assignee,
            where=fields,
            halves=False,  # this half already runs beside the other
        )
        assert isinstance(flow, Waterfall)
        return flow, forecast_section(ctx, chosen, currency=code, assignee=assignee, where=fields)

    def closed(status: str) -> list[Any]:
        return list_deals(
            ctx,
            status=status,
            assignee=assignee,
            close_from=first.isoformat(),
            close_to=today.isoformat(),
            dated="closed_at",
            sort="-closed_at",
            limit=LIST_LIMIT,
            where=fields,
        )

    def standing() -> dict[str, Any]:
        """The other half: the whole pipeline, attainment and the short lists."""
        return {
            "pipeline": forecasts.pipeline_board(ctx, assignee=assignee, currency=code, where=fields),
            "attainment": attainment_section(ctx, chosen, currency=code, assignee=assignee, where=fields),
            "won": closed("won"),
            "lost": closed("lost"),
            "pushes": pushes(ctx, since=first.isoformat(), assignee=assignee, limit=LIST_LIMIT, where=fields),
            "stuck": list(stuck(ctx, assignee=assignee, limit=LIST_LIMIT, where=fields)),
            "overdue": list(overdue(ctx, assignee=assignee, limit=LIST_LIMIT, where=fields)),
            "overdue_tasks": overdue_tasks_section(ctx, assignee=assignee, limit=LIST_LIMIT, where=fields),
        }

    def at(job: Callable[[], T]) -> Callable[[Connection], T]:
        def run(conn: Connection) -> T:
            with ctx.reading_at(conn):
                return job()

        return run

    # Two halves side by side at one snapshot (see the module's docstring).
    (flow, forecast_by_category), sections = ctx.reading_side_by_side(at(moving), at(standing))
    return Review(
        period=chosen.label,
        period_start=chosen.start,
        period_end=chosen.end,
        since=first,
        today=today,
        currency=code,
        assignee=assignee,
        forecast=forecast_by_category,
        waterfall=flow,
        **sections,
    )
