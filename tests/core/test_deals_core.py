"""The deal services through the core API (``opp.core.pipeline.deals``), and the stage rules as a pure
function."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opp.core import settings
from opp.core.clock import Clock
from opp.core.context import Context
from opp.core.errors import Conflict, Invalid, NotFound, StageRuleViolation
from opp.core.pipeline import customers, deals, history, users
from opp.core.pipeline.stages import Pipeline, plan_move
from opp.core.records import Opportunity, Stage

T0 = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


@pytest.fixture
def core(ctx):
    users.add_user(ctx, "dana")
    users.add_user(ctx, "mo")
    customers.add_customer(ctx, "organization", "Initech")
    customers.add_customer(ctx, "individual", "Pat Doe")
    return ctx


def later(ctx: Context, actor: str = "dana") -> Context:
    """The same database seen by ``actor`` at LATER."""
    return Context(ctx.store, actor=actor, clock=Clock(LATER))


def fields(ctx, deal_id, action=None):
    return [(e.field, e.old, e.new) for e in history.list_events(ctx, deal_id, action=action)]


# -- create and read -----------------------------------------------------------------------------------


def test_create_returns_an_opportunity_record(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="50000.50", close="+14d")
    assert isinstance(deal, Opportunity)
    assert deal.value == Decimal("50000.50") and deal.currency == "USD"
    assert (deal.probability, deal.forecast) == (15, Decimal("7500.08"))
    assert deal.expected_close == date(2026, 3, 24)
    assert deal.created_at == deal.updated_at == T0 and deal.closed_at is None
    assert deal.customer.name == "Initech"
    assert [e.action for e in history.list_events(core, deal.id)] == ["created"]


def test_create_uses_the_configured_currency(core):
    settings.set_setting(core, "currency", "eur")
    assert deals.create_deal(core, "Deal", person="Pat Doe").currency == "EUR"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, Invalid),
        ({"org": "Initech", "person": "Pat Doe"}, Invalid),
        ({"org": "2"}, Invalid),
        ({"org": "Nobody"}, NotFound),
        ({"org": "Initech", "assign": "ghost"}, NotFound),
        ({"org": "Initech", "value": "-1"}, Invalid),
        ({"org": "Initech", "currency": "XYZ"}, Invalid),
        ({"org": "Initech", "close": "2026-02-30"}, Invalid),
        ({"org": "Initech", "probability": "101"}, Invalid),
        ({"org": "Initech", "stage": "won", "probability": "99"}, Invalid),
    ],
)
def test_create_refuses_bad_input(core, kwargs, error):
    with pytest.raises(error):
        deals.create_deal(core, "Deal", **kwargs)
    assert deals.list_deals(core, status="all") == []


def test_duplicate_ref_is_a_conflict(core):
    deals.create_deal(core, "a", org="Initech", ref="R-1")
    with pytest.raises(Conflict):
        deals.create_deal(core, "b", org="Initech", ref="R-1")


@pytest.mark.parametrize(
    ("value", "currency", "probability", "expected"),
    [
        ("0.30", "USD", "15", "0.05"),  # 0.045: half up, not half even
        ("5", "JPY", "50", "3"),  # 2.5
        ("0.01", "USD", "50", "0.01"),  # 0.005
        ("0.01", "USD", "49", "0.00"),
        ("1.005", "KWD", "50", "0.503"),  # 0.5025
        ("50000.50", "USD", "15", "7500.08"),  # 7500.075
    ],
)
def test_forecast_is_rounded_half_up_to_the_minor_unit(core, value, currency, probability, expected):
    deal = deals.create_deal(
        core, "Deal", org="Initech", value=value, currency=currency, probability=probability
    )
    exact = Decimal(value) * int(probability) / 100
    assert deal.forecast == Decimal(expected) == exact.quantize(Decimal(expected), rounding=ROUND_HALF_UP)
    assert str(deal.forecast) == expected


def test_show_gives_the_deal_as_created_and_its_history(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    detail = deals.show_deal(core, str(deal.id))
    assert detail.opportunity == deal
    assert [e.action for e in detail.history] == ["created"]
    assert detail.as_dict()["history"][0]["action"] == "created"
    with pytest.raises(NotFound):
        deals.show_deal(core, 99)
    for bad in ("abc", "0", "-1", 0):
        with pytest.raises(Invalid):
            deals.show_deal(core, bad)


def test_list_filters(core):
    a = deals.create_deal(core, "Alpha 50%", org="Initech", value="100", close="2026-03-01", assign="mo")
    b = deals.create_deal(core, "Beta", person="Pat Doe", value="300", stage="won", close="2026-05-01")
    c = deals.create_deal(core, "Gamma", org="Initech", value="200", close="2026-04-15", description="a_b")

    def listed(**options):
        return [deal.id for deal in deals.list_deals(core, **options)]

    assert listed() == [a.id, c.id]
    assert listed(status="all", sort="-value") == [b.id, c.id, a.id]
    assert listed(stages=["won"]) == [b.id]
    assert listed(assignee="mo") == [a.id]
    assert listed(unassigned=True) == [c.id]
    assert listed(customer="Pat Doe", status="all") == [b.id]
    # Beta was won when it was made (2026-03-10): its close date is that day, in 2026Q1.
    assert listed(period="2026Q2", status="all") == [c.id]
    assert listed(period="2026Q1", status="all") == [a.id, b.id]
    assert listed(close_from="2026-04-01", close_to="2026-04-30") == [c.id]
    assert listed(search="50%") == [a.id]
    assert listed(search="5%0") == []
    assert listed(search="A_B") == [c.id]
    assert listed(overdue=True) == [a.id]
    assert listed(limit=1, sort="close") == [a.id]
    with pytest.raises(Invalid):
        listed(assignee="mo", unassigned=True)
    with pytest.raises(Invalid):
        listed(period="2026Q2", close_from="2026-01-01")
    with pytest.raises(Invalid):
        listed(limit=0)
    with pytest.raises(Invalid):
        listed(sort="nope")
    with pytest.raises(NotFound):
        listed(assignee="ghost")


# -- edit ----------------------------------------------------------------------------------------------


def test_edit_records_one_event_per_changed_field(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="10", description="d")
    edited = deals.edit_deal(later(core), deal.id, title="Deal", value="20", description="", probability="40")
    assert (edited.value, edited.description, edited.probability, edited.updated_at) == (
        Decimal("20.00"),
        None,
        40,
        LATER,
    )
    assert sorted(fields(core, deal.id, "updated")) == [
        ("description", "d", None),
        ("probability", "15", "40"),
        ("value", "10.00", "20.00"),
    ]


def test_edit_without_a_change_keeps_updated_at(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="10")
    assert deals.edit_deal(later(core), deal.id, title=" Deal ", value="10.00").updated_at == T0
    assert fields(core, deal.id, "updated") == []


def test_edit_currency_that_cannot_hold_the_value(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="10.50", currency="EUR")
    with pytest.raises(Invalid, match="cannot be expressed in JPY"):
        deals.edit_deal(core, deal.id, currency="JPY")
    assert deals.show_deal(core, deal.id).opportunity.currency == "EUR"


def test_edit_probability_of_a_closed_deal(core):
    deal = deals.create_deal(core, "Deal", org="Initech", stage="won")
    with pytest.raises(Invalid):
        deals.edit_deal(core, deal.id, probability="50")
    assert deals.edit_deal(core, deal.id, probability="100").probability == 100


# -- stage moves ---------------------------------------------------------------------------------------


def test_move_and_close(core):
    deal = deals.create_deal(core, "Deal", org="Initech", stage="negotiation")
    (won,) = deals.move_deals(later(core), "WON", [deal.id])
    assert (won.stage, won.status, won.probability, won.closed_at) == ("closed-won", "won", 100, LATER)
    assert fields(core, deal.id, "stage") == [
        ("stage", "negotiation", "closed-won"),
        ("probability", "75", "100"),
        ("status", "open", "won"),
        ("closed_at", None, "2026-03-12T10:00:00Z"),
    ]
    (reopened,) = deals.move_deals(core, "proposal", [deal.id], reopen=True)
    assert (reopened.status, reopened.closed_at, reopened.probability) == ("open", None, 50)


def test_move_refusals(core):
    a = deals.create_deal(core, "a", org="Initech")
    b = deals.create_deal(core, "b", org="Initech", stage="proposal")
    with pytest.raises(StageRuleViolation, match=f"opportunity {a.id}: moving from lead to proposal"):
        deals.move_deals(core, "proposal", [a.id])
    with pytest.raises(StageRuleViolation):
        deals.move_deals(core, "negotiation", [b.id, a.id])
    assert deals.show_deal(core, b.id).opportunity.stage == "proposal"  # all or nothing
    with pytest.raises(NotFound):
        deals.move_deals(core, "qualification", [a.id, 99])
    assert deals.show_deal(core, a.id).opportunity.stage == "lead"
    with pytest.raises(Invalid):
        deals.move_deals(core, "qualification", [a.id], reason="why")
    with pytest.raises(Invalid):
        deals.move_deals(core, "nope", [a.id])
    with pytest.raises(Invalid):
        deals.move_deals(core, "lost", [a.id], probability="10")
    with pytest.raises(Invalid):
        deals.move_deals(core, "lead", [])
    (lost,) = deals.move_deals(core, "lost", [a.id], reason=" budget ")
    assert lost.lost_reason == "budget"
    with pytest.raises(StageRuleViolation):
        deals.move_deals(core, "won", [a.id], force=True, reopen=True)


def test_claim_conflict_and_note(core):
    deal = deals.create_deal(core, "Deal", org="Initech", assign="mo")
    with pytest.raises(Conflict, match="held by mo"):
        deals.claim_deals(core, [deal.id])
    with pytest.raises(NotFound):
        deals.claim_deals(later(core, actor="ghost"), [deal.id])
    event = deals.add_note(core, deal.id, "hello")
    assert (event.action, event.note, event.opportunity_id) == ("note", "hello", deal.id)
    with pytest.raises(Invalid):
        deals.add_note(core, deal.id, " ")
    with pytest.raises(NotFound):
        deals.add_note(core, 99, "x")


def test_history_service(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    deals.add_note(later(core, actor="mo"), deal.id, "later")
    assert [e.action for e in history.list_events(core)] == ["created", "note"]
    assert [e.action for e in history.list_events(core, since="2026-03-11")] == ["note"]
    assert [e.action for e in history.list_events(core, actor="mo")] == ["note"]
    assert [e.action for e in history.list_events(core, limit=1)] == ["created"]
    with pytest.raises(Invalid):
        history.list_events(core, action="nope")
    with pytest.raises(NotFound):
        history.list_events(core, 99)


# -- plan_move, the pure rule --------------------------------------------------------------------------


def pipeline_of(open_count: int) -> Pipeline:
    open_stages = [Stage(f"s{i}", f"S{i}", min(5 + 10 * i, 99), i + 1, "open") for i in range(open_count)]
    closed = [
        Stage("closed-won", "Won", 100, open_count + 1, "won"),
        Stage("closed-lost", "Lost", 0, open_count + 2, "lost"),
    ]
    return Pipeline(tuple(open_stages + closed))


@st.composite
def open_moves(draw):
    count = draw(st.integers(min_value=1, max_value=8))
    here = draw(st.integers(min_value=0, max_value=count - 1))
    there = draw(st.integers(min_value=0, max_value=count - 1))
    probability = draw(st.none() | st.integers(min_value=0, max_value=100))
    return pipeline_of(count), here, there, probability


@given(open_moves(), st.booleans())
def test_plan_move_never_skips_forward_without_force(move, reopen):
    pipeline, here, there, probability = move
    current, target = pipeline.open_stages[here], pipeline.open_stages[there]
    if there > here + 1:
        with pytest.raises(StageRuleViolation):
            plan_move(pipeline, current, target, probability=probability, reopen=reopen)
        forced = plan_move(pipeline, current, target, probability=probability, force=True)
        assert forced is not None and forced.target == target
        assert forced.note == "forced: skipped " + ", ".join(
            s.key for s in pipeline.open_stages[here + 1 : there]
        )
    else:
        planned = plan_move(pipeline, current, target, probability=probability, reopen=reopen)
        if there == here:
            assert planned is None
        else:
            assert planned is not None and planned.target == target and planned.note is None
            assert planned.probability == (target.probability if probability is None else probability)


@given(open_moves(), st.booleans())
def test_plan_move_always_allows_back_moves_among_open_stages(move, force):
    pipeline, here, there, probability = move
    if there >= here:
        here, there = max(here, there), min(here, there)
    if here == there:
        return
    planned = plan_move(
        pipeline,
        pipeline.open_stages[here],
        pipeline.open_stages[there],
        probability=probability,
        force=force,
    )
    assert planned is not None and planned.target == pipeline.open_stages[there] and planned.note is None


@given(st.integers(min_value=1, max_value=8), st.data())
def test_plan_move_wins_only_from_the_last_open_stage(count, data):
    pipeline = pipeline_of(count)
    here = data.draw(st.integers(min_value=0, max_value=count - 1))
    current, won, lost = pipeline.open_stages[here], pipeline.get("won"), pipeline.get("lost")
    if here == count - 1:
        assert plan_move(pipeline, current, won).probability == 100  # type: ignore[union-attr]
    else:
        with pytest.raises(StageRuleViolation):
            plan_move(pipeline, current, won)
    assert plan_move(pipeline, current, lost).probability == 0  # type: ignore[union-attr]
    for closed in (won, lost):
        for target in pipeline.stages:
            if target == closed:
                assert plan_move(pipeline, closed, target) is None
            elif not target.is_open:
                with pytest.raises(StageRuleViolation):
                    plan_move(pipeline, closed, target, force=True, reopen=True)
            else:
                with pytest.raises(StageRuleViolation):
                    plan_move(pipeline, closed, target, force=True)
                assert plan_move(pipeline, closed, target, reopen=True).target == target  # type: ignore[union-attr]


def test_a_listing_pages_with_limit_and_offset(core):
    for number in range(5):
        deals.create_deal(core, f"Deal {number}", org="Initech", value=str(100 * (number + 1)))
    pages = [
        [deal.id for deal in deals.list_deals(core, sort="-value", limit=2, offset=offset)]
        for offset in (0, 2, 4, 6)
    ]
    assert pages == [[5, 4], [3, 2], [1], []]
    with pytest.raises(Invalid, match="offset must not be negative"):
        deals.list_deals(core, limit=2, offset=-1)


def test_stage_assign_and_claim_refuse_a_stale_version_as_edit_does(core):
    deal = deals.create_deal(core, "Stale", org="Initech")
    deals.edit_deal(later(core, "mo"), deal.id, value="10")  # version 2, by mo
    expected = (
        f"opportunity {deal.id} is at version 2, not 1: it was changed since by mo at 2026-03-12T10:00:00Z"
    )
    for change in (
        lambda: deals.move_deals(core, "qualification", [deal.id], if_version=1),
        lambda: deals.assign_deals(core, "mo", [deal.id], if_version=1),
        lambda: deals.unassign_deals(core, [deal.id], if_version=1),
        lambda: deals.claim_deals(core, [deal.id], if_version=1),
    ):
        with pytest.raises(Conflict) as refused:
            change()
        assert refused.value.message == expected
        assert refused.value.reason == "changed-meanwhile"
    with pytest.raises(Conflict) as edit_refused:
        deals.edit_deal(core, deal.id, title="x", if_version=1)
    assert edit_refused.value.message == expected
    assert deals.claim_deals(core, [deal.id], if_version=2)[0].assignee == "dana"
    assert deals.move_deals(core, "qualification", [deal.id], if_version=3)[0].stage == "qualification"


def test_a_version_check_covers_one_deal(core):
    first = deals.create_deal(core, "One", org="Initech")
    second = deals.create_deal(core, "Two", org="Initech")
    with pytest.raises(Invalid, match="one opportunity at a time"):
        deals.move_deals(core, "qualification", [first.id, second.id], if_version=1)
