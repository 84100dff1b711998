"""The board's cards (each stage's first deals, soonest to close first) are read stage by stage, each
by an ORDER BY ... LIMIT of its own: they must be exactly the cards of ranking every deal, on random
deals (ties of expected close, deals with none, several assignees, stages with no deal)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from opp.core.analytics.forecast import board
from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.pipeline.deals import DealFilter, Scope, query_deals, sort_terms
from opp.store import schema
from tests.conftest import NOW

OPEN_STAGES = ["lead", "qualification", "proposal", "negotiation"]


def _load(ctx, seed, count):
    pick = random.Random(seed)
    stamp = datetime(2026, 5, 1, 12, 0)
    with ctx.unit_of_work("test") as uow:
        conn = uow.conn
        customer = conn.execute(select(schema.customers.c.id)).scalar_one()
        users = list(conn.execute(select(schema.users.c.id)).scalars())
        stages = pick.sample(OPEN_STAGES, pick.randint(1, len(OPEN_STAGES)))
        rows = []
        for index in range(count):
            status = pick.choice(["open", "open", "open", "won", "lost"])
            close = None if pick.random() < 0.2 else date(2026, 6, 1) + timedelta(days=pick.randint(0, 40))
            rows.append(
                {
                    "title": f"deal {index}",
                    "customer_id": customer,
                    "value_minor": pick.randint(0, 10**6),
                    "currency": "USD",
                    "probability": pick.randint(0, 100),
                    "stage": pick.choice(stages) if status == "open" else f"closed-{status}",
                    "status": status,
                    "expected_close": close,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "closed_at": None if status == "open" else stamp,
                    "stage_changed_at": stamp,
                    "assignee_id": pick.choice([None, *users]),
                }
            )
        conn.execute(insert(schema.opportunities), rows)


def _ranked_in_python(ctx, cards, assignee=None):
    """Every open deal in the board's order, then each stage's first ``cards``, grouped by stage."""
    with ctx.reading() as conn:
        scope = Scope(status="open", assignee=assignee).resolve(conn, ctx)
        every = query_deals(conn, DealFilter.of(scope, sort=sort_terms("close")))
    kept: dict[str, list] = {}
    for deal in every:
        shown = kept.setdefault(deal.stage, [])
        if len(shown) < cards:
            shown.append(deal)
    return [deal for stage in sorted(kept) for deal in kept[stage]]


@pytest.mark.parametrize("seed", range(6))
def test_each_stages_first_cards_are_those_of_ranking_every_deal(restore, opp_template, db, seed):
    restore(opp_template)
    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
    try:
        _load(ctx, seed, count=random.Random(seed).randint(0, 120))
        for cards, assignee in ((1, None), (3, None), (20, None), (3, "dana")):
            with ctx.reading() as conn:
                scope = Scope(status="open", assignee=assignee).resolve(conn, ctx)
                shown = query_deals(conn, DealFilter.of(scope, sort=sort_terms("close"), per_stage=cards))
            assert shown == _ranked_in_python(ctx, cards, assignee)
        result = board(ctx, cards=3)
        every = _ranked_in_python(ctx, 3)
        for column in result.stages:
            assert [card.id for card in column.cards] == [d.id for d in every if d.stage == column.stage]
            assert column.more == column.count - len(column.cards)
    finally:
        ctx.close()
