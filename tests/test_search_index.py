"""The text index behind --search (opp.store.search): the same answers as reading every deal, kept up
to date by every path that writes a title, description or customer name, built for old databases, and
actually used by the query."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, text

from opp.core.clock import Clock
from opp.core.context import open_context
from opp.store import schema, search
from opp.store.engine import HEAD
from tests.conftest import BACKEND, NOW, Cli

o, cu = schema.opportunities, schema.customers
FIRST_SCHEMA = Path(__file__).parent / "data" / "schema-0001.db"

# Characters whose case rules differ between Python, SQLite's FTS5 and PostgreSQL, and FTS5's syntax.
TRICKY = [
    "İ", "ı", "i̇", "I", "ß", "ẞ", "Σ", "σ", "ς", "Ꭰ", "ꭰ", "É", "é", "e\u0301", "Å", "Å", "ǅ",
    "東京", "株式会社", "%", "_", "\\", "/", '"', "'", "*", "-", "^", ":", "(", ")", " AND ", " OR ",
    "NEAR", "NOT", "+", " ", "\t", "ﬁ", "K", "k",
]  # fmt: skip
CHARS = st.one_of(
    st.sampled_from(TRICKY),
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    st.sampled_from("abcABC xyz"),
)
TEXTS = st.lists(CHARS, max_size=12).map("".join)


def matches(needle: str, *texts: str | None) -> bool:
    """The contract: a case-insensitive substring of title, customer name or description."""
    return any(needle.lower() in value.lower() for value in texts if value is not None)


def found(conn, needle: str, *, indexed: bool) -> list[int]:
    query = (
        select(o.c.id)
        .join(cu, cu.c.id == o.c.customer_id)
        .where(search.deals_containing(conn, needle.lower(), indexed=indexed))
        .order_by(o.c.id)
    )
    return list(conn.execute(query).scalars())


class Rollback(Exception):
    """Leaves a test's writes out of the database."""


@contextmanager
def scratch(ctx):
    """A write transaction on opp's connection that is always rolled back."""
    try:
        with ctx.store.write() as conn:
            yield conn
            raise Rollback
    except Rollback:
        pass


def add_deals(conn, rows: list[tuple[str, str | None, str]]) -> list[int]:
    ids = []
    for title, description, customer in rows:
        customer_id = conn.execute(
            insert(cu).values(kind="organization", name=customer, created_at=NOW_NAIVE)
        ).inserted_primary_key[0]
        ids.append(
            conn.execute(
                insert(o).values(
                    title=title,
                    description=description,
                    customer_id=customer_id,
                    value_minor=0,
                    currency="EUR",
                    probability=10,
                    stage="lead",
                    status="open",
                    created_at=NOW_NAIVE,
                    updated_at=NOW_NAIVE,
                    stage_changed_at=NOW_NAIVE,
                )
            ).inserted_primary_key[0]
        )
    return ids


NOW_NAIVE = Clock.from_env_value(NOW).now().replace(tzinfo=None)


@pytest.fixture
def core(db):
    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
    yield ctx
    ctx.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), rows=st.lists(st.tuples(TEXTS, st.none() | TEXTS, TEXTS), min_size=1, max_size=6))
def test_the_index_finds_exactly_what_a_scan_finds(core, data, rows):
    rows = [(title or "t", description, customer or "c") for title, description, customer in rows]
    texts = [value for row in rows for value in row if value]
    source = data.draw(st.sampled_from(texts))
    start = data.draw(st.integers(0, len(source)))
    length = data.draw(st.integers(1, 6))
    needle = data.draw(
        st.one_of(
            st.just(source[start : start + length]),
            st.just(source[start : start + length].upper()),
            st.just(source[start : start + length].swapcase()),
            TEXTS,
        ).filter(bool)
    )
    with scratch(core) as conn:
        ids = add_deals(conn, rows)
        scanned = found(conn, needle, indexed=False)
        assert found(conn, needle, indexed=True) == scanned
        if BACKEND == "sqlite":  # PostgreSQL's lower() follows its own locale, not Python's
            expected = [deal for deal, (t, d, c) in zip(ids, rows, strict=True) if matches(needle, t, d, c)]
            assert [deal for deal in scanned if deal in ids] == expected


CORPUS = [
    ("Müller GmbH - Straße renovation", "Ein großes Projekt", "Müller GmbH"),
    ("İSTANBUL office move", None, "Çağrı Merkezi"),
    ("東京 data migration", "株式会社 rollout", "Tokyo Trading"),
    ('The "Quoted" deal', "50% off, A_B test, C:\\path, a*b, x-y", "Quote & Co"),
    ("ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ", "σοφια", "Greek Shipping"),
    ("Plain renewal", "AND OR NOT NEAR", "Ꭰ Cherokee Arts"),
]
NEEDLES = [
    "a", "ü", "Ü", "st", "straße", "STRASSE", "strasse", "gross", "GROß", "istanbul", "i̇stanbul", "İstanbul",
    "çağrı", "ÇAĞRI", "東京", "京", "株式", "data mig", '"quoted"', '"', 'e "q', "50%", "%", "0%,", "a_b",
    "_", "a*b", "*", "x-y", "-", "c:\\path", "\\", "and", "AND OR", "near", "not near", "σοφ", "ΣΟΦ",
    "οδος", "ος κ", "οσ κ", "ꭰ che", "Ꭰ CHE", "renewal", "newa", "zzz", "  ", "quote & co", "'",
]  # fmt: skip


@pytest.fixture(scope="session")
def corpus_template(databases, seeded):
    def build(db: str) -> None:
        seeded(db).close()
        cli = Cli(db)
        for title, description, customer in CORPUS:
            cli("customer", "add", "--org", customer)
            cli("create", title, "--org", customer, "--description", description or "")

    return databases.template(build)


@pytest.fixture
def corpus(cli, restore, corpus_template):
    """The CLI on a database with user dana and a deal for each of CORPUS."""
    restore(corpus_template)
    return cli


def expected_ids(cli: Cli, needle: str) -> list[int]:
    deals = cli.json("list", "--status", "all")
    return [d["id"] for d in deals if matches(needle, d["title"], d["customer"]["name"], d["description"])]


def listed(cli: Cli, needle: str, *more: str) -> list[int]:
    return [d["id"] for d in cli.json("list", "--status", "all", "--search", needle, *more)]


@pytest.mark.parametrize("needle", NEEDLES)
def test_search_matches_the_contract_for_any_text(corpus, core, needle):
    with core.reading() as conn:
        assert listed(corpus, needle) == found(conn, needle, indexed=False)
    if BACKEND == "sqlite":  # PostgreSQL's lower() follows its own locale ("İ" becomes "i" there)
        assert listed(corpus, needle) == expected_ids(corpus, needle)


@pytest.mark.parametrize("needle", NEEDLES)
def test_customer_search_matches_the_scan_and_the_contract(corpus, core, needle):
    names = [c["name"] for c in corpus.json("customer", "list", "--search", needle)]
    with core.reading() as conn:
        scanned = conn.execute(
            select(cu.c.name)
            .where(func.lower(cu.c.name).contains(needle.lower(), autoescape=True))
            .order_by(cu.c.id)
        ).scalars()
        assert names == list(scanned)
    if BACKEND == "sqlite":
        everyone = [c["name"] for c in corpus.json("customer", "list")]
        assert names == [name for name in everyone if matches(needle, name)]


def test_search_follows_edits_imports_undo_and_deletion(corpus, tmp_path):
    [deal] = listed(corpus, "plain renewal")
    corpus("edit", deal, "--title", "Fancy RENOVATION", "--description", "Nachfrage ÜBER alles")
    assert listed(corpus, "plain renewal") == []
    assert listed(corpus, "fancy renov") == [deal]
    assert listed(corpus, "über all") == [deal]
    corpus("undo")
    assert listed(corpus, "plain renewal") == [deal]
    assert listed(corpus, "fancy renov") == []
    assert listed(corpus, "über all") == []

    path = tmp_path / "deals.csv"
    path.write_text(
        "title,customer,customer_kind,external_ref,description\n"
        "Importierte Öffnung,Ölwerke AG,organization,IMP-1,first\n",
        encoding="utf-8",
    )
    corpus("import", path)
    [imported] = listed(corpus, "öffnung")
    assert listed(corpus, "ÖLWERKE") == [imported]
    path.write_text(
        "title,customer,customer_kind,external_ref,description\n"
        "Renamed by import,Ölwerke AG,organization,IMP-1,zweite Fassung\n",
        encoding="utf-8",
    )
    corpus("import", path)
    assert listed(corpus, "öffnung") == []
    assert listed(corpus, "zweite fass") == [imported]

    created = corpus.json("create", "Short-lived Ωmega deal", "--org", "Initech")["id"]
    assert listed(corpus, "ωmega") == [created]
    corpus("undo")  # removes the deal it created
    assert listed(corpus, "ωmega") == []
    assert_index_agrees(corpus.db)


def test_renaming_a_customer_finds_every_deal_by_its_new_name(corpus, core):
    deals = listed(corpus, "müller gmbh")
    assert deals
    with core.store.write() as conn:
        conn.execute(cu.update().where(cu.c.name == "Müller GmbH").values(name="Schmidt KG"))
    assert listed(corpus, "müller gmbh") == listed(corpus, "straße")  # the title still says Müller
    assert listed(corpus, "SCHMIDT kg") == deals
    assert_index_agrees(corpus.db)


def test_short_needles_and_past_states_are_searched_by_a_scan(corpus):
    assert listed(corpus, "京") == expected_ids(corpus, "京")
    assert listed(corpus, "st") == expected_ids(corpus, "st")
    [deal] = listed(corpus, "plain renewal")
    corpus("edit", deal, "--title", "Changed later", OPP_NOW="2026-03-12T09:00:00Z")
    # On the day the deal was still called "Plain renewal", which the index no longer holds.
    assert listed(corpus, "plain renewal", "--as-of", "2026-03-10") == [deal]
    assert listed(corpus, "plain renewal") == []


def test_a_needle_with_a_nul_character_is_searched_by_a_scan(corpus, core):
    if BACKEND != "sqlite":
        pytest.skip("PostgreSQL text cannot hold a NUL")
    with core.reading() as conn:
        assert found(conn, "ren\x00ovation", indexed=True) == []


def test_opp_db_upgrade_builds_the_index_of_a_0004_database(tmp_path):
    import sqlite3

    from alembic import command
    from sqlalchemy import create_engine

    from opp.store.dialect import register_sqlite_functions
    from tests.test_store import alembic_config

    path = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA, path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        register_sqlite_functions(conn.connection.driver_connection)
        command.upgrade(alembic_config(conn), "0004")
    engine.dispose()
    raw = sqlite3.connect(path)
    raw.execute(
        "INSERT INTO customers (kind, name, created_at) "
        "VALUES ('organization', 'ÇAĞRI Merkezi', '2026-01-01')"
    )
    raw.execute(
        "INSERT INTO opportunities (title, description, customer_id, value_minor, currency, probability, "
        "stage, status, created_at, updated_at, stage_changed_at) VALUES ('Ärger im Büro', 'ΣΟΦΙΑ', "
        "last_insert_rowid(), 0, 'EUR', 10, 'lead', 'open', '2026-01-01', '2026-01-01', '2026-01-01')"
    )
    raw.commit()
    raw.close()
    cli = Cli(path)
    upgraded = cli.json("db", "upgrade")
    assert (upgraded["schema_before"], upgraded["schema"], upgraded["search_index"]) == ("0004", HEAD, True)
    assert cli.json("db", "info")["search_index"] is True
    assert listed(cli, "tps audit") == [1]
    assert listed(cli, "initech") == [1]
    assert listed(cli, "ärger im") == [2]
    assert listed(cli, "çağri merk") == [2]  # "I" lower-cases to "i", not to "ı"
    assert listed(cli, "σοφια") == [2]
    assert_index_agrees(str(path))


def plan(conn, query) -> str:
    """The database's plan for a query, as one text."""
    sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if BACKEND == "sqlite" else "EXPLAIN "
    return "\n".join(str(row[-1]) for row in conn.execute(text(prefix + sql)))


def searching_plan(conn, where) -> str:
    """The plan of the statement that does a listing's search: the page's ids, when a short page has
    them chosen first (then the deals are read by id), else the one query."""
    from opp.core.pipeline.deals import deals_query, page_ids_query

    chosen = page_ids_query(conn, where)
    return plan(conn, chosen if chosen is not None else deals_query(conn, where))


def test_a_search_looks_its_text_up_in_the_index(corpus, core):
    from opp.core.pipeline.deals import DealFilter

    with core.store.write() as conn:
        # A handful of rows is read fastest whole: ask for the plan a big table would get.
        if BACKEND == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))
        else:  # opp keeps SQLite's statistics (PRAGMA optimize): say the tables are big
            conn.execute(text("ANALYZE stages"))  # creates sqlite_stat1 if it is not there yet
            conn.execute(text("DELETE FROM sqlite_stat1"))
            conn.execute(text("INSERT INTO sqlite_stat1 VALUES ('opportunities', NULL, '1000000')"))
            conn.execute(text("INSERT INTO sqlite_stat1 VALUES ('customers', NULL, '200000')"))
            conn.execute(text("ANALYZE sqlite_schema"))  # the planner reads them again
        found = searching_plan(conn, DealFilter(search="renovation", limit=50))
        short = searching_plan(conn, DealFilter(search="re", limit=50))
        customers = plan(conn, select(cu.c.id).where(search.customers_containing(conn, "renovation")))
    if BACKEND == "sqlite":
        assert "customers_fts VIRTUAL TABLE" in customers, customers
        assert "deals_fts VIRTUAL TABLE" in found and "customers_fts VIRTUAL TABLE" in found, found
        assert "SCAN o" not in found and "SCAN opportunities" not in found, found
        assert "fts" not in short
    else:
        for name, _table, _column in search.TRIGRAM_INDEXES:
            assert name in found, found
        assert "ix_customers_name_trgm" in customers, customers
        assert "trgm" not in short


def test_without_the_index_search_reads_every_deal_and_db_upgrade_adds_it_later(db, monkeypatch):
    if BACKEND == "sqlite":
        monkeypatch.setattr(search, "_sqlite_has_trigram", lambda conn: False)
    else:  # as when the role may not create the extension
        monkeypatch.setattr(search, "POSTGRESQL_EXTENSION", "opp_no_such_extension")
    cli = Cli(db)
    cli("customer", "add", "--org", "Umlaut Ölwerke")
    cli("create", "Pipeline renovation", "--org", "Umlaut Ölwerke")
    assert cli.json("db", "info")["search_index"] is False
    assert listed(cli, "renovation") == [1]
    assert listed(cli, "umlaut") == [1]
    monkeypatch.undo()
    assert cli.json("db", "upgrade")["search_index"] is True
    assert cli.json("db", "info")["search_index"] is True
    assert listed(cli, "renovation") == [1]
    assert listed(cli, "umlaut") == [1]
    assert_index_agrees(db)


def test_a_copy_and_a_backup_search_the_same(corpus, databases, tmp_path):
    target = databases.new("copy")
    try:
        corpus("db", "copy", "--to", target)
        copy = Cli(target)
        for needle in ("renovation", "müller", "quote & co", '"quoted"'):
            assert listed(copy, needle) == listed(corpus, needle)
        assert_index_agrees(target)
    finally:
        databases.drop(target)
    if BACKEND == "sqlite":
        corpus("db", "backup", tmp_path / "backup.db")
        assert listed(Cli(tmp_path / "backup.db"), "müller") == listed(corpus, "müller")


def test_the_revision_before_the_index_is_upgraded_with_its_data(corpus, core):
    from alembic import command

    from tests.test_store import alembic_config

    with core.store.write() as conn:
        command.downgrade(alembic_config(conn), "0004")
        assert not search.installed(conn)
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
    core.close()
    upgraded = corpus.json("db", "upgrade")
    assert (upgraded["schema_before"], upgraded["search_index"]) == ("0004", True)
    for needle in ("renovation", "quote & co", "data mig", "50%"):
        assert listed(corpus, needle) == expected_ids(corpus, needle)
    assert_index_agrees(corpus.db)


def assert_index_agrees(db: str) -> None:
    """SQLite: the FTS tables hold exactly the lower-cased text of every deal and customer."""
    if "://" in db:
        return
    ctx = open_context(db, actor="dana")
    try:
        with ctx.reading() as conn:
            deals = conn.execute(text("SELECT id, title, description FROM opportunities ORDER BY id")).all()
            indexed = conn.execute(text("SELECT rowid, title, description FROM deals_fts ORDER BY rowid"))
            assert indexed.all() == [(i, t.lower(), None if d is None else d.lower()) for i, t, d in deals]
            names = conn.execute(text("SELECT id, name FROM customers ORDER BY id")).all()
            indexed_names = conn.execute(text("SELECT rowid, name FROM customers_fts ORDER BY rowid")).all()
            assert indexed_names == [(i, n.lower()) for i, n in names]
        with ctx.store.write() as conn:
            for name in search.FTS_TABLES:
                conn.execute(text(f"INSERT INTO {name} ({name}, rank) VALUES ('integrity-check', 1)"))
    finally:
        ctx.close()
