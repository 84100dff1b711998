"""``opp import`` at its batch boundaries: the rows of a batch, of a multi-row INSERT, of the search
index written at the end of the import and of the indexes built again at its end (see
opp.core.transfer.importer, opp.store.dialect.insert_rows, opp.store.search.bulk_insert and
opp.store.indexes). Every deal gets its ``created`` event and its place in the search
index however the rows fall into batches, and a bad row in a later batch leaves nothing of the earlier
ones behind. SQLite and PostgreSQL (OPP_TEST_DATABASE_URL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from opp.core.transfer import importer
from opp.core.transfer.importer import BATCH_SIZE, ImportOptions, import_deals
from opp.store import dialect, indexes
from tests.conftest import BACKEND
from tests.test_import import row, write
from tests.test_search_index import assert_index_agrees, listed

SMALL = 5  # the batch size of the quick tests


def rows(count: int, **cells: str) -> list[str]:
    return [
        row(n, title=f"Batch Deal Nr {n:05d}", customer=f"Kunde {n % 7}", **cells)
        for n in range(1, count + 1)
    ]


def query(cli, sql: str) -> list[tuple]:
    """Rows of a query on the test's database, read aside from opp."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(cli.db if "://" in cli.db else f"sqlite:///{cli.db}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(found) for found in conn.execute(text(sql))]
    finally:
        engine.dispose()


def triggers(cli) -> list[str]:
    """The search index's triggers (SQLite; none on PostgreSQL)."""
    if BACKEND != "sqlite":
        return []
    return [
        name for (name,) in query(cli, "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
    ]


def index_sql(cli) -> list[tuple]:
    """Every index of the database with its SQL (SQLite; none on PostgreSQL)."""
    if BACKEND != "sqlite":
        return []
    return query(cli, "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")


def assert_every_deal_imported(cli, count: int) -> None:
    """``count`` deals, each with its one ``created`` event, each found by a search for its title."""
    deals = query(cli, "SELECT id, external_ref FROM opportunities ORDER BY id")
    assert len(deals) == count
    events = query(
        cli,
        "SELECT o.id, count(h.id) FROM opportunities o LEFT JOIN history h "
        "ON h.opportunity_id = o.id AND h.action = 'created' GROUP BY o.id ORDER BY o.id",
    )
    assert events == [(deal_id, 1) for deal_id, _ref in deals]
    by_ref = {ref: deal_id for deal_id, ref in deals}
    for n in sorted({1, count // 2 or 1, count}):
        assert listed(cli, f"deal nr {n:05d}") == [by_ref[f"REF-{n}"]]
    named = query(
        cli,
        "SELECT o.id FROM opportunities o JOIN customers c ON c.id = o.customer_id "
        "WHERE c.name = 'Kunde 3' ORDER BY o.id",
    )
    assert sorted(listed(cli, "kunde 3", "--limit", str(count + 1))) == [deal_id for (deal_id,) in named]
    assert_index_agrees(cli.db)


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of SMALL rows, and multi-row INSERTs of 2 rows, so that boundaries come quickly; the
    deals' and events' indexes dropped for the import (and built at its end) from 2 rows written."""
    batches = importer._batches
    monkeypatch.setattr(importer, "_batches", lambda found, _size: batches(found, SMALL))
    monkeypatch.setattr(dialect, "_ROWS_PER_INSERT", 2)
    monkeypatch.setattr(indexes, "AT_LEAST", 2)


@pytest.mark.parametrize("count", [1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL, 2 * SMALL + 1])
def test_every_deal_gets_its_event_and_its_search_entry_at_any_batch_boundary(
    opp, tmp_path, small_batches, count
):
    before = triggers(opp), index_sql(opp)
    opp("import", write(tmp_path, *rows(count)))
    assert_every_deal_imported(opp, count)
    assert (triggers(opp), index_sql(opp)) == before
    if BACKEND == "sqlite":
        assert query(opp, "PRAGMA integrity_check") == [("ok",)]  # each index holds every row


@pytest.mark.parametrize("count", [BATCH_SIZE, BATCH_SIZE + 1])
def test_a_file_of_exactly_a_batch_and_of_one_row_more(opp, tmp_path, count):
    opp("import", write(tmp_path, *rows(count)))
    assert_every_deal_imported(opp, count)


@pytest.mark.parametrize("bad", [SMALL + 1, 2 * SMALL, 2 * SMALL + 1])
def test_a_bad_row_in_a_later_batch_leaves_the_database_and_its_index_as_they_were(
    opp, tmp_path, unchanged, small_batches, bad
):
    opp("import", write(tmp_path, row(1, title="Already There")))  # a deal the file updates
    lines = rows(2 * SMALL + 2)
    lines[bad - 2] = row(bad, value="lots")  # line ``bad``: the header is line 1
    before = triggers(opp), index_sql(opp)
    check = unchanged()  # every table, the search index's own included
    error = opp.fails(2, "import", write(tmp_path, *lines))
    assert f"line {bad}: " in error
    check()
    assert (triggers(opp), index_sql(opp)) == before
    assert listed(opp, "batch deal") == []
    created = opp.json("create", "Made After The Failure", "--org", "Acme Corp")["id"]
    assert listed(opp, "after the failure") == [created]  # the insert trigger is back at work
    assert_index_agrees(opp.db)


def test_a_dry_run_leaves_the_index_and_its_triggers_as_they_were(opp, tmp_path, unchanged, small_batches):
    before = triggers(opp), index_sql(opp)
    check = unchanged()
    opp("import", "--dry-run", write(tmp_path, *rows(2 * SMALL + 1)))
    check()
    assert (triggers(opp), index_sql(opp)) == before


def test_skipped_rows_and_the_customers_made_for_them_leave_no_search_entry(opp, tmp_path, small_batches):
    lines = rows(2 * SMALL + 1)
    lines[SMALL] = row(SMALL + 1, title="Lonely Skipped", customer="Only For The Skipped Row", value="x")
    rejects = tmp_path / "rejects.csv"
    opp("import", "--skip-invalid", "--rejects", rejects, write(tmp_path, *lines))
    assert listed(opp, "only for the skipped") == []
    assert listed(opp, "lonely skipped") == []
    assert len(rejects.read_text(encoding="utf-8").splitlines()) == 2
    assert len(listed(opp, "batch deal")) == 2 * SMALL
    assert_index_agrees(opp.db)


def test_a_deal_made_and_updated_by_the_same_file_is_indexed_once_with_its_last_title(
    opp, tmp_path, small_batches
):
    opp("import", write(tmp_path, row(99, title="Old Deal Before")))
    lines = [
        *rows(SMALL - 1),
        row(50, title="First Title Of Fifty"),  # the last row of the first batch
        row(50, title="Second Title Of Fifty"),  # the next batch updates it
        row(99, title="Old Deal Renamed"),  # a deal from before the import, renamed
        row(51, title="Fifty One Made"),
        row(51, title="Fifty One Renamed"),  # in the same batch
    ]
    opp("import", write(tmp_path, *lines))
    assert listed(opp, "first title") == []
    [fifty] = listed(opp, "second title of fifty")
    assert listed(opp, "fifty one made") == []
    assert len(listed(opp, "fifty one renamed")) == 1
    assert listed(opp, "old deal before") == []
    assert len(listed(opp, "old deal renamed")) == 1
    assert fifty not in listed(opp, "fifty one")
    assert_index_agrees(opp.db)


def test_an_export_imported_again_by_id_round_trips_through_small_batches(opp, tmp_path, small_batches):
    opp("import", write(tmp_path, *rows(2 * SMALL + 1)))
    exported = tmp_path / "export.csv"
    exported.write_text(opp("export", "-f", "csv").stdout, encoding="utf-8")
    before = opp.json("list", "--status", "all")
    summary = opp("import", exported, "-o", "json").json()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 2 * SMALL + 1)
    assert opp.json("list", "--status", "all") == before
    assert_index_agrees(opp.db)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("per_insert", [1, 2, 3])
def test_insert_rows_writes_every_row_whatever_the_rows_per_statement(ctx, monkeypatch, count, per_insert):
    monkeypatch.setattr(dialect, "_ROWS_PER_INSERT", per_insert)
    from sqlalchemy import select

    from opp.store import schema

    users = schema.users
    made = [
        {"handle": f"bulk{n}", "name": None if n % 2 else f"Bulk {n}", "email": None, "created_at": None}
        for n in range(count)
    ]
    with ctx.store.write() as conn:
        for entry in made:
            entry["created_at"] = ctx.clock.now().replace(tzinfo=None)
        ids = dialect.insert_returning_ids(conn, users, made)
        found = conn.execute(
            select(users.c.id, users.c.handle, users.c.name)
            .where(users.c.handle.like("bulk%"))
            .order_by(users.c.id)
        ).all()
    assert [tuple(r) for r in found] == [(i, e["handle"], e["name"]) for i, e in zip(ids, made, strict=True)]


def test_the_search_index_is_written_once_at_the_end_of_an_import(ctx, tmp_path, monkeypatch):
    """SQLite: the rows are indexed by one statement per table after the last batch, not a row at a
    time (the insert triggers are held back meanwhile)."""
    if BACKEND != "sqlite":
        pytest.skip("PostgreSQL's trigram indexes are kept by the database")
    statements: list[str] = []
    path: Path = write(tmp_path, *rows(2 * SMALL + 1))
    from sqlalchemy import event

    engine = ctx.store.engine

    def seen(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        import_deals(ctx, path, ImportOptions(batch_size=SMALL))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    into_index = [s for s in statements if s.startswith("INSERT INTO deals_fts")]
    assert len(into_index) == 1
    assert statements.index(into_index[0]) > max(
        i for i, s in enumerate(statements) if s.startswith("INSERT INTO history")
    )
    assert sum(s.startswith("CREATE TRIGGER deals_fts_insert") for s in statements) == 1


def _statements_of_import(ctx, path: Path, **options) -> list[str]:
    from sqlalchemy import event

    statements: list[str] = []
    engine = ctx.store.engine

    def seen(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        import_deals(ctx, path, ImportOptions(batch_size=SMALL, **options))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return statements


def test_a_large_import_builds_the_indexes_once_at_its_end(ctx, tmp_path, monkeypatch):
    """SQLite: once an import has written as many deals as the database held (and at least
    indexes.AT_LEAST), the deals' and events' secondary indexes are dropped, and made again from their
    own SQL after the last batch, before the import's closing statements; the unique ones stay."""
    if BACKEND != "sqlite":
        pytest.skip("PostgreSQL keeps its indexes (DROP INDEX would lock readers out)")
    monkeypatch.setattr(indexes, "AT_LEAST", 2)
    with ctx.store.engine.connect() as conn:
        before = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'opportunities' "
            "AND sql IS NOT NULL ORDER BY name"
        ).all()
        held = conn.exec_driver_sql("SELECT count(*) FROM opportunities").scalar_one()
    statements = _statements_of_import(ctx, write(tmp_path, *rows(held + 3 * SMALL)))
    dropped = [s for s in statements if s.startswith("DROP INDEX")]
    made = [s for s in statements if s.startswith("CREATE INDEX")]
    assert {f'DROP INDEX "{name}"' for name, _sql in before} <= set(dropped)
    assert {sql for _name, sql in before} <= set(made)
    assert not any("UNIQUE" in s for s in dropped + made)
    last_write = max(i for i, s in enumerate(statements) if s.startswith("INSERT INTO history"))
    assert min(statements.index(s) for s in made) > last_write
    with ctx.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").all() == [("ok",)]


def test_a_small_import_into_a_larger_database_keeps_the_indexes(ctx, tmp_path, monkeypatch):
    if BACKEND != "sqlite":
        pytest.skip("PostgreSQL keeps its indexes")
    monkeypatch.setattr(indexes, "AT_LEAST", 2)
    import_deals(ctx, write(tmp_path, *rows(4 * SMALL)), ImportOptions())
    fewer = [row(n, title=f"Later Deal {n}", customer="Kunde 1") for n in range(1000, 1000 + SMALL)]
    statements = _statements_of_import(ctx, write(tmp_path, *fewer))
    assert not [s for s in statements if s.startswith(("DROP INDEX", "CREATE INDEX"))]
