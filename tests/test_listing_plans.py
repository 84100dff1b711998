"""A page of open deals in id order (the default listing, ``opp browse``'s pages, and the filters no
index answers: ``--without-task``, ``--where`` on a custom field) is read from the index on (status,
id), migration 0013: SQLite walks the open deals in id order and stops at the page's end, never
sorting every open deal to find it (what it did when the only indexes leading with the status were
in close-date or stage order)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from opp.core.clock import Clock
from opp.core.context import Context, open_context
from opp.core.pipeline.deals import list_deals
from tests.conftest import NOW
from tests.test_aggregate_plans import _load, with_regions, with_statistics

PAGES = {
    "open deals": {},
    "--without-task": {"without_task": True},
    "--where region=EMEA": {"where": ["region=EMEA"]},
    "a later page": {"offset": 20},
}


def _page_plans(ctx: Context, **filters: Any) -> list[list[str]]:
    """SQLite's plan of each statement choosing a page's ids that listing the deals ran."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.startswith("SELECT opportunities.id \nFROM opportunities") and "LIMIT" in statement:
            statements.append((statement, parameters))

    engine = ctx.store.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert list_deals(ctx, limit=10, **filters)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    with engine.connect() as conn:
        return [
            [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            for statement, parameters in statements
        ]


@pytest.fixture
def loaded(restore: Any, opp_template: Any, db_path: Any) -> Iterator[Context]:
    """A SQLite file with the 400 deals of ``test_aggregate_plans._load`` (in USD), and a context."""
    restore(opp_template)
    ctx = open_context(str(db_path), actor="dana", clock=Clock.from_env_value(NOW))
    try:
        _load(ctx, ["USD"])
        yield ctx
    finally:
        ctx.close()


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "analyzed"])
def test_a_page_of_open_deals_walks_the_status_id_index_unsorted(loaded, analyzed):
    with_regions(loaded, "'EMEA'")
    with loaded.store.engine.begin() as conn:
        conn.execute(text("ANALYZE" if analyzed else "DROP TABLE IF EXISTS sqlite_stat1"))
    for name, filters in PAGES.items():
        plans = _page_plans(loaded, **filters)
        assert len(plans) == 1, name
        assert any("ix_opportunities_status_id" in line for line in plans[0]), (name, plans)
        assert not any("TEMP B-TREE" in line for line in plans[0]), (name, plans)


@pytest.mark.parametrize("statistics", ["none", "analyzed", "bench"])
def test_the_most_overdue_deals_are_read_from_the_status_close_date_index(loaded, statistics):
    """``list --overdue --limit N`` (and the review's overdue list): the page's LIMIT is written into the
    statement, so SQLite reads the open deals' entries of (status, expected_close) from the oldest and
    stops, instead of walking every deal in close-date order testing each one's status (which it chose
    for a bound LIMIT with a million deals' statistics: 0.4 s against 1 ms)."""
    with loaded.store.engine.begin() as conn:
        with_statistics(conn, statistics)
    plans = _page_plans(loaded, overdue=True, sort="close")
    assert len(plans) == 1
    assert any("ix_opportunities_status_expected_close" in line for line in plans[0]), plans


@pytest.mark.parametrize("statistics", ["none", "analyzed", "bench"])
def test_a_reps_deals_in_a_stage_are_read_in_id_order_from_the_assignee_stage_index(loaded, statistics):
    """``list --assignee HANDLE --stage STAGE --limit N`` (migration 0015): under (assignee_id, stage)
    the rep's deals of the stage follow each other in id order, so the page is the first entries, not
    every deal of the rep read and sorted (54 ms at the bench's million deals, against 0.1 ms)."""
    from opp.core.pipeline.users import add_user

    add_user(loaded, "sam")
    with loaded.store.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE opportunities SET assignee_id = (SELECT id FROM users WHERE handle = 'sam')"
                " WHERE id % 3 = 0"
            )
        )
        with_statistics(conn, statistics)
    plans = _page_plans(loaded, stages=["proposal"], assignee="sam")
    assert len(plans) == 1
    assert any("ix_opportunities_assignee_id_stage" in line for line in plans[0]), plans
    assert not any("TEMP B-TREE" in line for line in plans[0]), plans
