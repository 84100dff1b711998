"""Migration 0012: history by (field, at, deal). The upgrade from 0010 on SQLite and PostgreSQL, and the
plans of ``report pushes`` (all of them, or since a day in ``opp review``) on a big database: read from
the index, never by scanning history."""

from __future__ import annotations

import pytest

from opp.core.context import open_context
from tests.conftest import BACKEND
from tests.test_timeline import BIG, _plans

INDEX = "ix_history_field_at_action_opportunity_id"


def test_upgrading_from_0010_adds_the_index_of_schema_py(db):
    """On SQLite, or PostgreSQL with OPP_TEST_DATABASE_URL."""
    from alembic import command
    from sqlalchemy import create_engine, inspect, text

    from opp.store import schema
    from opp.store.engine import HEAD
    from tests.test_store import alembic_config

    url = db if "://" in db else f"sqlite:///{db}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0010")
            assert INDEX not in {ix["name"] for ix in inspect(conn).get_indexes("history")}
        open_context(db, actor="dana").close()
        found = {ix["name"]: tuple(ix["column_names"]) for ix in inspect(engine).get_indexes("history")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    finally:
        engine.dispose()
    declared = {ix.name: tuple(c.name for c in ix.columns) for ix in schema.history.indexes}
    assert found[INDEX] == declared[INDEX] == ("field", "at", "action", "opportunity_id")


@pytest.fixture
def pushed(opp):
    """Deals whose close date moved: two pushes, a pull-in, and a deal never moved."""
    for title, close in (
        ("Pushed twice", "2026-03-20"),
        ("Pulled in", "2026-05-01"),
        ("Still", "2026-03-25"),
    ):
        opp(
            "create",
            title,
            "--org",
            "Initech",
            "--value",
            "100",
            "--close",
            close,
            OPP_NOW="2026-03-01T10:00:00Z",
        )
    opp("edit", "1", "--close", "2026-04-10", OPP_NOW="2026-03-03T10:00:00Z")
    opp("edit", "1", "--close", "2026-04-30", OPP_NOW="2026-03-06T10:00:00Z")
    opp("edit", "2", "--close", "2026-03-28", OPP_NOW="2026-03-06T11:00:00Z")
    return opp


@pytest.mark.parametrize(
    "args",
    [
        ("report", "pushes"),
        ("report", "pushes", "--status", "all"),
        ("review", "--since", "2026-03-04"),
    ],
)
def test_the_close_date_questions_read_history_through_the_field_index(pushed, db, args):
    if BACKEND != "sqlite":
        pytest.skip("reads SQLite's plans")
    assert ("history", INDEX) in BIG
    plans = _plans(pushed, db, *args)
    on_history = [plan for plan in plans if "history" in plan]
    assert any(INDEX in plan for plan in on_history), plans
    assert not any("SCAN history" in plan for plan in on_history), plans


def test_the_pushes_of_the_plans_above(pushed):
    found = pushed.json("report", "pushes", "--status", "all")
    assert [(row["title"], row["pushes"], row["slip_days"]) for row in found] == [("Pushed twice", 2, 41)]
    assert found[0]["first_close"] == "2026-03-20"
