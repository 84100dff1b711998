"""The aggregates read their figures from a covering index, never from the table (migration 0011):
SQLite's plan for every query the forecast, the pipeline and a period's forecast run on the deals
searches an index that holds every column it needs, on a small database, with and without statistics."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from opp.core.analytics.attainment import attainment
from opp.core.analytics.forecast import board, forecast, pipeline_board
from opp.core.analytics.reports import win_rate, win_rate_by
from opp.core.clock import Clock
from opp.core.context import Context, open_context
from opp.core.money.rates import set_rate
from opp.store import schema
from tests.conftest import NOW

CASES: dict[str, Callable[[Context], Any]] = {
    "forecast": lambda ctx: forecast(ctx, by="stage", currency="USD"),
    "forecast --period": lambda ctx: forecast(ctx, by="stage", currency="USD", period="2026Q2"),
    "forecast --by quarter": lambda ctx: forecast(ctx, by="quarter", currency="USD"),
    "forecast --by category": lambda ctx: forecast(ctx, by="category", currency="USD"),
    "forecast --by assignee": lambda ctx: forecast(ctx, by="assignee", currency="USD"),
    "pipeline": lambda ctx: pipeline_board(ctx, currency="USD"),
    "pipeline --board (figures)": lambda ctx: board(ctx, currency="USD"),
    "report win-rate": lambda ctx: win_rate(ctx),
    "report win-rate --period": lambda ctx: win_rate(ctx, period="2026Q1"),
    "report attainment": lambda ctx: attainment(ctx, "2026Q1", currency="USD"),
}
# The board's cards are a listing (the first deals of each stage, read by id): not an aggregate.
AGGREGATES = ("count(", "sum(", "total(", "max(", "LIMIT ? OFFSET ?")


def _load(ctx: Context, currencies: list[str]) -> None:
    set_rate(ctx, "EUR", "USD", "1.1", on="2024-01-01")
    set_rate(ctx, "EUR", "USD", "1.05", on="2026-01-01")
    picks = random.Random(18)
    stages = ["lead", "qualification", "proposal", "negotiation"]
    stamp = datetime(2025, 6, 1, 12, 0)
    with ctx.unit_of_work("test") as uow:
        conn = uow.conn
        customer = conn.execute(select(schema.customers.c.id)).scalar_one()
        rows = []
        for index in range(400):
            status = picks.choice(["open", "open", "open", "won", "lost"])
            close = date(2025, 7, 1) + timedelta(days=picks.randrange(720))
            rows.append(
                {
                    "title": f"deal {index}",
                    "customer_id": customer,
                    "value_minor": picks.randrange(10**7),
                    "currency": picks.choice(currencies),
                    "probability": picks.randrange(101),
                    "stage": picks.choice(stages) if status == "open" else f"closed-{status}",
                    "status": status,
                    "expected_close": close if picks.random() < 0.9 else None,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "closed_at": None if status == "open" else datetime.combine(close, datetime.min.time()),
                    "stage_changed_at": stamp,
                }
            )
        conn.execute(insert(schema.opportunities), rows)


def with_regions(ctx: Context, value_sql: str, *, held: str = "1 = 1") -> None:
    """The choice field ``region`` (EMEA or APAC), set to ``value_sql`` on the deals ``held`` says."""
    from opp.core.fields import add_field

    add_field(ctx, "region", type="choice", choices="EMEA,APAC")
    with ctx.store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO field_values (field_id, record_id, text_value)"
                f" SELECT 1, id, {value_sql} FROM opportunities WHERE {held}"
            )
        )


def _plans(ctx: Context, call: Callable[[Context], Any]) -> list[tuple[str, list[str]]]:
    """Each query on the deals the call ran, with SQLite's plan for it."""
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM opportunities" in statement:
            statements.append((statement, parameters))

    engine = ctx.store.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        call(ctx)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    with engine.connect() as conn:
        return [
            (
                statement,
                [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)],
            )
            for statement, parameters in statements
            if any(word in statement for word in AGGREGATES) and "opportunities.title" not in statement
        ]


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "analyzed"])
@pytest.mark.parametrize("currencies", [["USD"], ["USD", "EUR"]], ids=["one currency", "two currencies"])
def test_the_aggregates_read_only_covering_indexes(restore, opp_template, db_path, analyzed, currencies):
    restore(opp_template)
    ctx = open_context(str(db_path), actor="dana", clock=Clock.from_env_value(NOW))
    try:
        _load(ctx, currencies)
        with ctx.store.engine.begin() as conn:
            conn.execute(text("ANALYZE" if analyzed else "DROP TABLE IF EXISTS sqlite_stat1"))
        for name, call in CASES.items():
            plans = _plans(ctx, call)
            assert plans, name
            for statement, plan in plans:
                on_deals = [line for line in plan if " opportunities " in f"{line} "]
                assert on_deals, (name, statement, plan)
                for line in on_deals:
                    assert "COVERING INDEX" in line, (name, statement, plan)
    finally:
        ctx.close()


#: sqlite_stat1 of the bench's million deals (bench/generate.py): the deals' indexes, and the values of
#: the choice field ``region`` that 750,000 of them hold.
BENCH_STATISTICS = {
    "ix_opportunities_status_id": "1000000 333334 1",
    "ix_opportunities_closed_at_status": "1000000 3 3 3 3 3 1 1 1 1",
    "ix_opportunities_status_expected_close": "1000000 333334 541 3 3 3 1 1 1 1",
    "ix_opportunities_status_stage": "1000000 333334 166667 266 3 3 1 1 1 1",
    "ix_opportunities_open_stage_changed_at": "600148 1",
    "ix_opportunities_expected_close": "1000000 1062",
    "ix_opportunities_customer_id": "1000000 6",
    "ix_opportunities_assignee_id_status": "1000000 19608 6536",
    "ix_opportunities_assignee_id_stage": "1000000 19608 3268",
    "sqlite_autoindex_opportunities_1": "1000000 4",
    "field_values": "750000 750000 1",
    "ix_field_values_field_id_text_value": "750000 750000 250000",
    "ix_field_values_field_id_number_value": "750000 750000 750000",
    "ix_field_values_field_id_date_value": "750000 750000 750000",
}


def with_statistics(conn: Any, statistics: str) -> None:
    """No statistics, SQLite's own (``analyzed``), or the bench's million deals' (``bench``)."""
    conn.execute(text("DROP TABLE IF EXISTS sqlite_stat1" if statistics == "none" else "ANALYZE"))
    if statistics == "bench":
        for index, stat in BENCH_STATISTICS.items():
            conn.execute(
                text("UPDATE sqlite_stat1 SET stat = :stat WHERE idx = :index"),
                {"stat": stat, "index": index},
            )
        conn.execute(text("ANALYZE sqlite_schema"))  # the planner reads them again


def _field_plans(ctx: Context, call: Callable[[Context], Any]) -> list[list[str]]:
    return [plan for statement, plan in _plans(ctx, call) if "field_values" in statement]


@pytest.mark.parametrize("statistics", ["none", "analyzed", "bench"])
def test_grouping_by_a_custom_field_reads_the_values_by_their_primary_key(
    restore, opp_template, db_path, statistics
):
    """A report joining each deal to its value (``report win-rate --by region``): one search of
    field_values' primary key (field_id, record_id) per deal, which holds the value (migration 0014
    dropped the index on record_id that SQLite took instead). ``forecast --by region`` with the bench's
    statistics reads the values in order from (field_id, text_value) and each one's deal by its id."""
    restore(opp_template)
    ctx = open_context(str(db_path), actor="dana", clock=Clock.from_env_value(NOW))
    try:
        _load(ctx, ["USD", "EUR"])
        with_regions(ctx, "CASE WHEN id % 3 = 0 THEN 'APAC' ELSE 'EMEA' END", held="id % 4 != 0")
        with ctx.store.engine.begin() as conn:
            with_statistics(conn, statistics)
        joined = _field_plans(ctx, lambda ctx: win_rate_by(ctx, "region"))
        assert joined
        for plan in joined:
            on_values = [line for line in plan if "field_values" in line]
            assert on_values and all(
                "PRIMARY KEY (field_id=? AND record_id=?)" in line for line in on_values
            ), plan
        [grouped] = _field_plans(ctx, lambda ctx: forecast(ctx, by="region", currency="USD"))
        if statistics == "bench":
            assert grouped == [
                "SEARCH field_values USING COVERING INDEX ix_field_values_field_id_text_value (field_id=?)",
                "SEARCH opportunities USING INTEGER PRIMARY KEY (rowid=?)",
            ]
    finally:
        ctx.close()


def test_upgrading_from_0010_gives_the_indexes_of_schema_py(db):
    """Migration 0011 on a database at 0010 (SQLite, or PostgreSQL with OPP_TEST_DATABASE_URL)."""
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from opp.store.engine import HEAD
    from tests.test_store import alembic_config

    url = db if "://" in db else f"sqlite:///{db}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0010")
        open_context(db, actor="dana").close()
        indexes = {
            ix["name"]: tuple(ix["column_names"]) for ix in inspect(engine).get_indexes("opportunities")
        }
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    finally:
        engine.dispose()
    declared = {ix.name: tuple(c.name for c in ix.columns) for ix in schema.opportunities.indexes}
    assert {name: indexes.get(name) for name in declared} == declared  # the search index's are apart
    assert declared["ix_opportunities_status_stage"][:2] == ("status", "stage")
