"""The one path for changing a deal (``opp.core.pipeline.changes``): what a change of each field
implies, the history events it makes, and that a change and its events are written together."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from opp.core.context import Context
from opp.core.errors import Conflict, Invalid
from opp.core.pipeline import changes, customers, deals, history, users
from opp.core.pipeline.changes import KEEP, DealChange, FieldChange
from opp.core.pipeline.stages import load_pipeline
from opp.core.records import Stage

T0 = datetime(2026, 3, 10, 8, 30)  # the ctx fixture's clock, as instants are stored (naive UTC)


@pytest.fixture
def core(ctx: Context) -> Context:
    users.add_user(ctx, "dana")
    users.add_user(ctx, "mo")
    customers.add_customer(ctx, "organization", "Initech")
    return ctx


def _stage(ctx: Context, key: str) -> Stage:
    with ctx.reading() as conn:
        return load_pipeline(conn).get(key)


def change(
    ctx: Context, deal_id: int, build: Callable[[DealChange], None], action: str = "updated"
) -> DealChange:
    """Build a change of the deal with ``build`` and write it; returns the change made."""
    with ctx.unit_of_work("test") as uow:
        made = DealChange(uow, deals.lock_deal(uow.conn, deal_id))
        build(made)
        made.write(action=action)
        return made


def events(ctx: Context, deal_id: int) -> list[tuple[str | None, str | None, str | None]]:
    return [(e.field, e.old, e.new) for e in history.list_events(ctx, deal_id) if e.action != "created"]


def test_only_fields_that_differ_are_changed_each_with_its_event(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="10", close="2026-04-01")
    made = change(
        core, deal.id, lambda c: (c.set("title", "Deal"), c.set("title", "New"), c.set("probability", 15))
    )
    assert made.changes == [FieldChange("title", "Deal", "New")]
    assert events(core, deal.id) == [("title", "Deal", "New")]
    after = deals.show_deal(core, deal.id).opportunity
    assert (after.title, after.version) == ("New", 2)


def test_a_field_set_twice_is_one_change_and_set_back_is_none(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    made = change(core, deal.id, lambda c: (c.set("title", "A"), c.set("title", "B")))
    assert made.changes == [FieldChange("title", "Deal", "B")]
    unchanged = change(core, deal.id, lambda c: (c.set("title", "C"), c.set("title", "B")))
    assert (unchanged.values, unchanged.changes) == ({}, [])
    assert deals.show_deal(core, deal.id).opportunity.version == 2


def test_nothing_to_change_writes_nothing(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    with core.unit_of_work("test") as uow:
        assert DealChange(uow, deals.lock_deal(uow.conn, deal.id)).write(action="updated") is False
    assert deals.show_deal(core, deal.id).opportunity.version == 1 and events(core, deal.id) == []


def test_events_carry_the_codecs_texts(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="1234.5")
    other = customers.add_customer(core, "organization", "Globex").id
    change(core, deal.id, lambda c: (c.set("expected_close", date(2026, 5, 1)), c.set("customer_id", other)))
    assert events(core, deal.id) == [("expected_close", None, "2026-05-01"), ("customer_id", "1", str(other))]


def test_a_new_currency_alone_re_expresses_the_value(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="1200")
    change(core, deal.id, lambda c: (c.currency("JPY"), c.value()))
    assert events(core, deal.id) == [("currency", "USD", "JPY"), ("value", "1200.00", "1200")]
    after = deals.show_deal(core, deal.id).opportunity
    assert (str(after.value), after.currency) == ("1200", "JPY")


def test_a_value_the_new_currency_cannot_hold_is_refused(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="10.50")
    with pytest.raises(Invalid, match=r"^the value 10.50 cannot be expressed in JPY$"):
        change(core, deal.id, lambda c: (c.currency("JPY"), c.value()))
    assert deals.show_deal(core, deal.id).opportunity.currency == "USD" and events(core, deal.id) == []


def test_a_new_value_is_written_in_the_new_currency(core):
    deal = deals.create_deal(core, "Deal", org="Initech", value="10.50")
    change(core, deal.id, lambda c: (c.currency("KWD"), c.value(1500)))
    assert events(core, deal.id) == [("currency", "USD", "KWD"), ("value", "10.50", "1.500")]


def test_a_deal_with_billable_lines_keeps_its_currency(core):
    from opp.core.billing.billables import add_billable

    deal = deals.create_deal(core, "Deal", org="Initech")
    add_billable(core, deal.id, item="Work", price="100")
    with pytest.raises(Conflict, match="has billable lines in USD"):
        change(core, deal.id, lambda c: c.currency("EUR"))
    change(core, deal.id, lambda c: (c.currency("USD"), c.value(500)))  # the same currency is no change
    assert [field for field, _, _ in events(core, deal.id)] == ["line", "value"]


def test_a_closed_deals_probability_is_fixed(core):
    deal = deals.create_deal(core, "Deal", org="Initech", stage="won")
    with pytest.raises(Invalid, match=r"^a closed-won deal has probability 100, not 50$"):
        change(core, deal.id, lambda c: c.probability(50))
    change(core, deal.id, lambda c: c.probability(100))
    assert events(core, deal.id) == []


def test_moving_into_a_stage_brings_its_default_probability_and_status(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    made = change(core, deal.id, lambda c: c.stage(_stage(core, "qualification")), action="stage")
    assert made.changes == [
        FieldChange("stage", "lead", "qualification"),
        FieldChange("probability", "15", "30"),
    ]
    assert made.values["stage_changed_at"] == T0
    given = change(core, deal.id, lambda c: c.stage(_stage(core, "proposal"), probability=40))
    assert given.values["probability"] == 40


def test_staying_in_a_stage_keeps_the_probability_unless_one_is_given(core):
    deal = deals.create_deal(core, "Deal", org="Initech", probability="20")
    made = change(core, deal.id, lambda c: c.stage(_stage(core, "lead")))
    assert (made.values, made.changes) == ({}, [])
    made = change(core, deal.id, lambda c: c.stage(_stage(core, "lead"), probability=25))
    assert made.changes == [FieldChange("probability", "20", "25")]
    assert "stage_changed_at" not in made.values


def test_closing_sets_closed_at_now_and_winning_probability_100(core):
    deal = deals.create_deal(core, "Deal", org="Initech", stage="negotiation")
    made = change(core, deal.id, lambda c: c.stage(_stage(core, "won")), action="stage")
    assert made.changes == [
        FieldChange("stage", "negotiation", "closed-won"),
        FieldChange("probability", "75", "100"),
        FieldChange("status", "open", "won"),
        FieldChange("closed_at", None, "2026-03-10T08:30:00Z"),
    ]
    assert deals.show_deal(core, deal.id).opportunity.closed_at == T0.replace(tzinfo=UTC)


def test_a_given_closing_instant_is_the_stage_entry_and_never_before_creation(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    with pytest.raises(Invalid, match="is before the deal's creation 2026-03-10"):
        change(core, deal.id, lambda c: c.stage(_stage(core, "lost"), closed_at=datetime(2026, 3, 1)))
    closing = datetime(2026, 3, 10, 9, 0)
    made = change(core, deal.id, lambda c: c.stage(_stage(core, "lost"), closed_at=closing))
    assert made.values["closed_at"] == made.values["stage_changed_at"] == closing


def test_a_closed_deal_moved_between_closed_stages_keeps_its_closing(core):
    deal = deals.create_deal(core, "Deal", org="Initech", stage="won")
    made = change(core, deal.id, lambda c: c.stage(_stage(core, "lost")), action="import")
    assert "closed_at" not in made.values and made.values["stage_changed_at"] == T0
    assert [c.field for c in made.changes] == ["stage", "probability", "status"]


def test_reopening_clears_the_closing_and_the_lost_reason(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    change(core, deal.id, lambda c: c.stage(_stage(core, "lost"), lost_reason="price"), action="stage")
    made = change(core, deal.id, lambda c: c.stage(_stage(core, "lead")), action="stage")
    assert made.changes == [
        FieldChange("stage", "closed-lost", "lead"),
        FieldChange("probability", "0", "15"),
        FieldChange("status", "lost", "open"),
        FieldChange("closed_at", "2026-03-10T08:30:00Z", None),
        FieldChange("lost_reason", "price", None),
    ]


def test_a_lost_reason_belongs_to_lost_deals_only(core):
    deal = deals.create_deal(core, "Deal", org="Initech")
    with pytest.raises(Invalid, match="lost_reason is given but the stage is qualification"):
        change(core, deal.id, lambda c: c.stage(_stage(core, "qualification"), lost_reason="price"))
    change(core, deal.id, lambda c: c.stage(_stage(core, "lost"), lost_reason="price"))
    kept = change(core, deal.id, lambda c: c.stage(_stage(core, "lost"), lost_reason=KEEP))
    assert kept.changes == []
    cleared = change(core, deal.id, lambda c: c.stage(_stage(core, "lost"), lost_reason=None))
    assert cleared.changes == [FieldChange("lost_reason", "price", None)]


def test_assigning_writes_handles(core):
    deal = deals.create_deal(core, "Deal", org="Initech", assign="dana")
    with core.reading() as conn:
        mo = users.user_id(conn, "mo")
    change(core, deal.id, lambda c: c.assign(mo, "mo"), action="assign")
    change(core, deal.id, lambda c: c.assign(None, None), action="assign")
    assert events(core, deal.id) == [("assignee", "dana", "mo"), ("assignee", "mo", None)]
    made = change(core, deal.id, lambda c: (c.assign(mo, "mo"), c.assign(None, None)), action="assign")
    assert (made.values, made.changes) == ({}, [])
    with pytest.raises(ValueError, match="assign"):
        change(core, deal.id, lambda c: c.set("assignee", mo))


def test_a_change_and_its_events_are_one_transaction(core):
    deal = deals.create_deal(core, "Deal", org="Initech")

    def then_fail(made: DealChange) -> None:
        made.set("title", "New")
        made.write(action="updated")
        raise Conflict("a later refusal in the same command")

    with pytest.raises(Conflict), core.unit_of_work("test") as uow:
        then_fail(DealChange(uow, deals.lock_deal(uow.conn, deal.id)))
    assert deals.show_deal(core, deal.id).opportunity.title == "Deal" and events(core, deal.id) == []


@pytest.mark.parametrize(
    ("clean", "limit", "what"),
    [
        (changes.clean_title, 500, "title"),
        (changes.clean_description, 100_000, "description"),
        (changes.clean_ref, 200, "external ref"),
        (changes.clean_reason, 2000, "lost reason"),
    ],
)
def test_text_is_trimmed_within_its_length_limit(clean, limit, what):
    assert clean("  " + "x" * limit + "  ") == "x" * limit
    with pytest.raises(
        Invalid, match=f"^{what} is {limit + 1} characters long; at most {limit} are allowed$"
    ):
        clean("x" * (limit + 1))
