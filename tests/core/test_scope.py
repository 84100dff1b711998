"""Which deals a command covers (``opp.core.pipeline.scope``): one object that list, export, forecast,
the reports and the insights share, resolving each option, ``--as-of`` included, once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from opp.core.analytics import forecast
from opp.core.clock import Clock
from opp.core.context import Context
from opp.core.errors import Invalid, NotFound
from opp.core.pipeline import customers, deals, users
from opp.core.pipeline.scope import CLOSED, DealScope, Scope
from opp.core.transfer.exporter import export_deals

T0 = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)


def at(ctx: Context, when: datetime) -> Context:
    return Context(ctx.store, actor="dana", clock=Clock(when))


@pytest.fixture
def team(ctx):
    users.add_user(ctx, "dana")
    users.add_user(ctx, "mo")
    customers.add_customer(ctx, "organization", "Initech")
    customers.add_customer(ctx, "organization", "Globex")
    return ctx


@pytest.fixture
def pipeline(team):
    """Four deals on 2026-03-10: a lead for mo, a proposal, a deal won on 03-20 and one lost on 03-20."""
    lead = deals.create_deal(team, "Lead", org="Initech", value="1000", close="2026-03-31", assign="mo")
    proposal = deals.create_deal(
        team, "Proposal", org="Globex", value="2000", stage="proposal", close="2026-04-15"
    )
    won = deals.create_deal(team, "Won", org="Initech", value="3000", close="2026-03-05")
    lost = deals.create_deal(team, "Lost", org="Globex", value="4000", close="2026-06-30")
    later = at(team, datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    deals.move_deals(later, "closed-won", [won.id], force=True)
    deals.move_deals(later, "closed-lost", [lost.id], force=True)
    return {"lead": lead.id, "proposal": proposal.id, "won": won.id, "lost": lost.id, "ctx": later}


def covered(ctx: Context, scope: Scope) -> list[int]:
    with ctx.reading() as conn:
        return sorted(conn.execute(scope.resolve(conn, ctx).select(conn).deals).scalars())


def resolved(ctx: Context, scope: Scope) -> DealScope:
    with ctx.reading() as conn:
        return scope.resolve(conn, ctx)


def test_open_deals_unless_stages_are_named(team):
    assert resolved(team, Scope()).status == "open"
    assert resolved(team, Scope(stages=["Proposal"])).status == "all"
    assert resolved(team, Scope(stages=["Proposal"])).stages == ["proposal"]
    assert resolved(team, Scope(status=" WON ")).status == "won"
    assert resolved(team, Scope(status=CLOSED)).status == ("won", "lost")


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (Scope(status="pending"), "unknown status 'pending'"),
        (Scope(assignee="mo", unassigned=True), "either an assignee or unassigned deals"),
        (Scope(period="2026Q3", close_from="2026-07-01"), "either a period or a range of dates"),
        (Scope(as_of="not a date"), ""),
        (Scope(stages=["nowhere"]), "unknown stage 'nowhere'"),
    ],
)
def test_bad_options_are_refused(team, scope, message):
    with pytest.raises(Invalid) as refused:
        resolved(team, scope)
    assert message in refused.value.message


def test_unknown_names_are_not_found(team):
    for scope in (Scope(assignee="nobody"), Scope(customer="Nobody Inc")):
        with pytest.raises(NotFound):
            resolved(team, scope)


def test_as_of_is_resolved_once_to_the_end_of_that_day(team):
    scope = resolved(team, Scope(as_of="2026-03-01", overdue=True))
    assert scope.as_of == datetime(2026, 3, 2)
    assert scope.day == scope.overdue_on == date(2026, 3, 1)
    now = resolved(team, Scope(overdue=True))
    assert (now.as_of, now.day, now.overdue_on) == (None, date(2026, 3, 10), date(2026, 3, 10))


def test_a_period_dates_deals_by_what_the_command_asks(team):
    close = resolved(team, Scope(period="2026-03"))
    assert (close.close_from, close.close_to, close.closed_within) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
        None,
    )
    closed = resolved(team, Scope(period="2026-03", dated="closed_at"))
    assert closed.closed_within == (datetime(2026, 3, 1), datetime(2026, 4, 1))
    assert (closed.close_from, closed.close_to, closed.created_within) == (None, None, None)
    created = resolved(team, Scope(period="2026-03", dated="created_at"))
    assert created.created_within == (datetime(2026, 3, 1), datetime(2026, 4, 1))


def test_each_option_narrows_the_deals(pipeline):
    ctx = pipeline["ctx"]
    assert covered(ctx, Scope()) == [pipeline["lead"], pipeline["proposal"]]
    assert covered(ctx, Scope(status="all")) == sorted(v for k, v in pipeline.items() if k != "ctx")
    assert covered(ctx, Scope(status=CLOSED)) == [pipeline["won"], pipeline["lost"]]
    assert covered(ctx, Scope(assignee="mo")) == [pipeline["lead"]]
    assert covered(ctx, Scope(unassigned=True)) == [pipeline["proposal"]]
    assert covered(ctx, Scope(customer="Globex", status="all")) == [pipeline["proposal"], pipeline["lost"]]
    # A closed deal's close date is the day it closed (03-20), not its old expected close.
    assert covered(ctx, Scope(status="all", period="2026-03")) == [
        pipeline["lead"],
        pipeline["won"],
        pipeline["lost"],
    ]
    assert covered(ctx, Scope(status="all", close_from="2026-04-01")) == [pipeline["proposal"]]
    assert covered(ctx, Scope(search="propos")) == [pipeline["proposal"]]
    assert covered(ctx, Scope(status=CLOSED, period="2026-03", dated="closed_at")) == [
        pipeline["won"],
        pipeline["lost"],
    ]
    assert covered(ctx, Scope(status=CLOSED, period="2026-02", dated="closed_at")) == []


def test_as_of_selects_the_deals_as_they_stood_that_day(pipeline):
    ctx = pipeline["ctx"]
    # On 03-15 nothing had closed yet: all four were open, and the won one was already overdue.
    then = Scope(as_of="2026-03-15")
    assert covered(ctx, then) == sorted(v for k, v in pipeline.items() if k != "ctx")
    assert covered(ctx, Scope(as_of="2026-03-15", overdue=True)) == [pipeline["won"]]
    assert covered(ctx, Scope(as_of="2026-03-09")) == []  # before any deal existed


def test_list_export_and_forecast_cover_the_same_deals(pipeline):
    ctx = pipeline["ctx"]
    for options in ({}, {"assignee": "mo"}, {"period": "2026-03"}, {"as_of": "2026-03-15"}):
        listed = [deal.id for deal in deals.list_deals(ctx, status="all", **options)]
        assert listed == covered(ctx, Scope(status="all", **options)), options
        if "as_of" not in options:
            exported = [record["title"] for record in export_deals(ctx, **options)]
            assert exported == [deal.title for deal in deals.list_deals(ctx, status="all", **options)]
        in_forecast = forecast.forecast(ctx, **options).total.count
        assert in_forecast == len(covered(ctx, forecast.forecast_scope(**options))), options
        assert forecast.forecast_scope(**options).status == ("open", "won")
