"""A short page of deals (``--limit``, a screen of ``opp browse``) has its ids chosen over the deals
alone when neither the filter nor the order needs another table (opp.core.pipeline.deals._page_ids),
then those deals read whole: every page must be exactly that slice of the whole listing, in every
order (ties, deals with no close date, amounts in several currencies), and the orders and filters that
read the customers or the assignees take the one-query way with the same answer."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from opp.core.clock import Clock
from opp.core.context import open_context
from opp.core.money.rates import set_rate
from opp.core.pipeline import deals as deals_module
from opp.core.pipeline.deals import list_deals
from opp.core.settings import set_setting
from opp.store import schema
from tests.conftest import NOW

SORTS = [None, "-value", "value", "-forecast", "title", "stage,-value", "-close", "customer", "assignee,id"]


def _load(ctx, seed, count):
    pick = random.Random(seed)
    stamp = datetime(2026, 5, 1, 12, 0)
    with ctx.unit_of_work("test") as uow:
        conn = uow.conn
        customer = conn.execute(select(schema.customers.c.id)).scalar_one()
        users = list(conn.execute(select(schema.users.c.id)).scalars())
        rows = []
        for index in range(count):
            status = pick.choice(["open", "open", "open", "won", "lost"])
            close = None if pick.random() < 0.2 else date(2026, 6, 1) + timedelta(days=pick.randint(0, 9))
            rows.append(
                {
                    "title": pick.choice(["Renewal", "Migration", "Audit"]) + f" {index % 7}",
                    "customer_id": customer,
                    "value_minor": pick.choice([0, 100, 5000, pick.randint(0, 10**6)]),
                    "currency": pick.choice(["USD", "USD", "EUR", "JPY"]),
                    "probability": pick.randint(0, 100),
                    "stage": pick.choice(["lead", "proposal"]) if status == "open" else f"closed-{status}",
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


@pytest.fixture
def shop(restore, opp_template, db):
    restore(opp_template)
    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
    set_rate(ctx, "EUR", "USD", "1.10", on="2026-01-01")
    set_rate(ctx, "JPY", "USD", "0.0067", on="2026-01-01")
    set_setting(ctx, "reporting_currency", "USD")
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.mark.parametrize("seed", range(3))
def test_every_page_is_the_slice_of_the_whole_listing(shop, seed, monkeypatch):
    _load(shop, seed, count=random.Random(seed).randint(20, 90))
    chosen = []
    page_ids = deals_module._page_ids
    monkeypatch.setattr(deals_module, "_page_ids", lambda *a: chosen.append(found := page_ids(*a)) or found)
    for status in ("open", "all"):
        for sort in SORTS:
            whole = [d.id for d in list_deals(shop, sort=sort, status=status)]
            for limit, offset in ((1, 0), (7, 0), (7, 5), (50, 3), (200, 0), (10, len(whole))):
                page = [d.id for d in list_deals(shop, sort=sort, status=status, limit=limit, offset=offset)]
                assert page == whole[offset : offset + limit], (status, sort, limit, offset)
    # The ids were chosen first for the orders on the deals alone, the others read in one query.
    assert any(found is not None for found in chosen)
    assert any(found is None for found in chosen)


def test_a_search_reads_the_customers_and_pages_the_same(shop):
    _load(shop, 7, count=60)
    whole = [d.id for d in list_deals(shop, sort="-value", search="migration")]
    assert whole
    assert [d.id for d in list_deals(shop, sort="-value", search="migration", limit=4, offset=2)] == whole[
        2:6
    ]
