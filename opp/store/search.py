"""The text index behind ``--search``: a case-insensitive substring match over a deal's title, its
customer's name and its description, found through an index instead of reading every deal.

``opp customer list --search`` finds customers by name through the same index.

The answer is always exactly the substring match, ``lower(column) LIKE '%needle%'`` with opp's Unicode
``lower()`` (see opp.store.dialect); the index only narrows down which deals that test runs on.

- **SQLite**: two FTS5 tables with the trigram tokenizer, ``deals_fts`` (title, description; rowid = the
  deal's id) and ``customers_fts`` (name; rowid = the customer's id, so renaming a customer touches one
  row, not every deal of it). They hold the text *lower-cased by opp's lower()*, written by triggers on
  every insert, update and delete, whatever path writes (edit, import, undo, ``db copy``); a bulk
  import holds back the insert triggers and indexes its new rows at its end (:func:`bulk_insert`).
  The query is lower-cased the same way, and FTS5 folds case one character at a time, so the index
  finds every deal whose lower-cased text contains the lower-cased needle (and maybe a few more: FTS5
  also folds ``ς`` to ``σ``, for one); the LIKE then keeps exactly the right ones. Indexing the
  original text instead would miss deals: FTS5's case tables are older than Python's (Cherokee, ``İ``, …).
- **PostgreSQL**: ``pg_trgm`` GIN indexes on ``lower(title)``, ``lower(description)`` and
  ``lower(customers.name)``, which the same LIKE uses when it is asked as one subquery per table. When
  the extension cannot be created (the role may not), search stays a scan and ``opp db upgrade`` tries
  again later.

Needles shorter than three characters have no trigram to look up: they are matched by the scan.

A migration that rebuilds the opportunities or customers table on SQLite (``batch_alter_table``) drops
its triggers with it and must call :func:`install` again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    and_,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from opp.store import schema

#: A trigram index cannot look up anything shorter.
MIN_INDEXED_LENGTH = 3

#: SQLite's virtual tables (FTS5 keeps its data in shadow tables named after them: ``deals_fts_data``…).
FTS_TABLES = ("deals_fts", "customers_fts")

POSTGRESQL_EXTENSION = "pg_trgm"

#: PostgreSQL's trigram indexes: name, table, column.
TRIGRAM_INDEXES = (
    ("ix_opportunities_title_trgm", "opportunities", "title"),
    ("ix_opportunities_description_trgm", "opportunities", "description"),
    ("ix_customers_name_trgm", "customers", "name"),
)

_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE deals_fts USING fts5(title, description, tokenize = 'trigram case_sensitive 0')",
    "CREATE VIRTUAL TABLE customers_fts USING fts5(name, tokenize = 'trigram case_sensitive 0')",
    """CREATE TRIGGER deals_fts_insert AFTER INSERT ON opportunities BEGIN
        INSERT INTO deals_fts (rowid, title, description)
        VALUES (new.id, lower(new.title), lower(new.description));
    END""",
    """CREATE TRIGGER deals_fts_update AFTER UPDATE OF id, title, description ON opportunities BEGIN
        DELETE FROM deals_fts WHERE rowid = old.id;
        INSERT INTO deals_fts (rowid, title, description)
        VALUES (new.id, lower(new.title), lower(new.description));
    END""",
    """CREATE TRIGGER deals_fts_delete AFTER DELETE ON opportunities BEGIN
        DELETE FROM deals_fts WHERE rowid = old.id;
    END""",
    """CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
        INSERT INTO customers_fts (rowid, name) VALUES (new.id, lower(new.name));
    END""",
    """CREATE TRIGGER customers_fts_update AFTER UPDATE OF id, name ON customers BEGIN
        DELETE FROM customers_fts WHERE rowid = old.id;
        INSERT INTO customers_fts (rowid, name) VALUES (new.id, lower(new.name));
    END""",
    """CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
        DELETE FROM customers_fts WHERE rowid = old.id;
    END""",
    # The text already there; opp's connection lower-cases it as the triggers will.
    "INSERT INTO deals_fts (rowid, title, description) SELECT id, lower(title), lower(description) "
    "FROM opportunities",
    "INSERT INTO customers_fts (rowid, name) SELECT id, lower(name) FROM customers",
)

_SQLITE_TRIGGERS = tuple(f"{name}_{event}" for name in FTS_TABLES for event in ("insert", "update", "delete"))


def install(conn: Connection) -> bool:
    """Create (or make anew) the search index and fill it from the data there, in the caller's
    transaction on opp's own connection (whose lower() the SQLite index is written with); False when
    this database cannot have one, and search stays a scan."""
    if conn.dialect.name == "sqlite":
        if not _sqlite_has_trigram(conn):
            return False
        uninstall(conn)
        for statement in _SQLITE_DDL:
            conn.exec_driver_sql(statement)
        return True
    try:
        with conn.begin_nested():
            # A trusted extension since PostgreSQL 13: a role with CREATE on the database may add it.
            conn.exec_driver_sql(f"CREATE EXTENSION IF NOT EXISTS {POSTGRESQL_EXTENSION}")
            for name, table_name, column_name in TRIGRAM_INDEXES:
                conn.exec_driver_sql(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {table_name} "
                    f"USING gin (lower({column_name}) gin_trgm_ops)"
                )
    except DBAPIError:
        return False
    return True


def uninstall(conn: Connection) -> None:
    """Remove the search index (the pg_trgm extension stays: other things may use it)."""
    if conn.dialect.name == "sqlite":
        for trigger in _SQLITE_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        for name in FTS_TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        return
    for name, _table, _column in TRIGRAM_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


#: The insert triggers :func:`bulk_insert` holds back, and what they index: (trigger, table, FTS table,
#: the indexed values from that table's row).
_BULK_TRIGGERS = (
    (
        "deals_fts_insert",
        "opportunities",
        "deals_fts (rowid, title, description)",
        "id, lower(title), lower(description)",
    ),
    ("customers_fts_insert", "customers", "customers_fts (rowid, name)", "id, lower(name)"),
)


@contextmanager
def bulk_insert(conn: Connection) -> Iterator[None]:
    """Index the deals and customers inserted inside this block once, at its end, rather than a row at
    a time (a bulk import): on SQLite the insert triggers are dropped for the block, in the caller's
    transaction, and the rows added since its start are then indexed with one statement per table and
    the triggers made again. FTS5 writes a segment of index at every statement savepoint and merges
    them as they pile up, so a row at a time costs several times what one statement costs.

    The block must run in opp's write transaction (which holds the write lock: no one else inserts
    meanwhile), and that transaction must roll back if the block fails: nothing is indexed or restored
    then, and the rollback brings the triggers back. Updates and deletes keep their triggers. Does
    nothing on PostgreSQL, whose trigram indexes are kept by the database itself, or where there is no
    index."""
    if conn.dialect.name != "sqlite" or not installed(conn):
        yield
        return
    since = {
        table_name: conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table_name}").scalar_one()
        for _trigger, table_name, _fts, _values in _BULK_TRIGGERS
    }
    for trigger, _table, _fts, _values in _BULK_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    yield
    for _trigger, table_name, fts, values in _BULK_TRIGGERS:
        fts_name = fts.split()[0]
        # A row the block also updated is in the index already (the update trigger wrote it).
        conn.exec_driver_sql(
            f"INSERT INTO {fts} SELECT {values} FROM {table_name} WHERE id > ? "
            f"AND id NOT IN (SELECT rowid FROM {fts_name} WHERE rowid > ?) ORDER BY id",
            (since[table_name], since[table_name]),
        )
    for statement in _SQLITE_DDL:
        if any(f"CREATE TRIGGER {trigger} " in statement for trigger, *_rest in _BULK_TRIGGERS):
            conn.exec_driver_sql(statement)


def installed(conn: Connection) -> bool:
    """Whether searches in this database use the index."""
    if conn.dialect.name == "sqlite":
        query = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN :names"
        wanted: tuple[str, ...] = FTS_TABLES
    else:
        query = "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN :names"
        wanted = tuple(name for name, _table, _column in TRIGRAM_INDEXES)
    statement = text(query).bindparams(bindparam("names", expanding=True))
    return bool(conn.execute(statement, {"names": list(wanted)}).scalar_one() == len(wanted))


def _sqlite_has_trigram(conn: Connection) -> bool:
    """FTS5 with the trigram tokenizer (SQLite 3.34 and later, when built with FTS5)."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.opp_probe USING fts5(x, tokenize = 'trigram')")
            conn.exec_driver_sql("DROP TABLE temp.opp_probe")
    except OperationalError:
        return False
    return True


def deals_containing(conn: Connection, needle: str, *, indexed: bool = True) -> ColumnElement[bool]:
    """A condition on a query over the opportunities table joined to customers (``schema.customers``):
    the deal's title, customer name or description contains ``needle``, already lower-cased by the
    caller. ``indexed=False`` asks for the plain scan (a query over deals rebuilt from history, which
    the index does not cover)."""
    o, cu = schema.opportunities, schema.customers
    exact = or_(*(_contains(column_, needle) for column_ in (o.c.title, cu.c.name, o.c.description)))
    # FTS5 reads its query only up to a NUL.
    if not indexed or len(needle) < MIN_INDEXED_LENGTH or "\x00" in needle:
        return exact
    if conn.dialect.name == "sqlite":
        if not installed(conn):
            return exact
        return and_(o.c.id.in_(_fts_candidates(needle)), exact)
    return o.c.id.in_(_trigram_matches(needle))  # the same LIKEs, one table at a time: exact already


def customers_containing(conn: Connection, needle: str) -> ColumnElement[bool]:
    """A condition on a query over the customers table: the name contains ``needle``, already
    lower-cased by the caller (``opp customer list --search``)."""
    exact = _contains(schema.customers.c.name, needle)
    if conn.dialect.name != "sqlite" or len(needle) < MIN_INDEXED_LENGTH or "\x00" in needle:
        return exact  # PostgreSQL's trigram index on lower(name) serves this LIKE itself
    if not installed(conn):
        return exact
    return and_(schema.customers.c.id.in_(_fts_rowids("customers_fts", _fts_phrase(needle))), exact)


def _contains(column_: Any, needle: str) -> ColumnElement[bool]:
    contains: ColumnElement[bool] = func.lower(column_).contains(needle, autoescape=True)
    return contains


def _fts_phrase(needle: str) -> str:
    """``needle`` as one FTS5 phrase, so that quotes, ``*``, ``-``, ``AND``… are text to find."""
    return '"' + needle.replace('"', '""') + '"'


def _fts_candidates(needle: str) -> CompoundSelect[Any]:
    """Ids of the deals whose lower-cased title or description, or customer's name, may contain
    ``needle`` (a superset: the LIKE of :func:`deals_containing` decides)."""
    phrase = _fts_phrase(needle)
    deals = schema.opportunities.alias("search_deals")
    by_customer = select(deals.c.id).where(deals.c.customer_id.in_(_fts_rowids("customers_fts", phrase)))
    return _fts_rowids("deals_fts", phrase).union_all(by_customer)


def _fts_rowids(name: str, phrase: str) -> Select[Any]:
    fts = table(name, column("rowid"))
    return select(fts.c.rowid).where(literal_column(name).op("MATCH")(phrase))


def _trigram_matches(needle: str) -> CompoundSelect[Any]:
    """Ids of the matching deals, asked one table at a time so that PostgreSQL can use an index for each
    LIKE (an OR across a join cannot)."""
    deals = schema.opportunities.alias("search_deals")
    customers = schema.customers.alias("search_customers")
    by_text = select(deals.c.id).where(
        or_(_contains(deals.c.title, needle), _contains(deals.c.description, needle))
    )
    by_customer = select(deals.c.id).where(
        deals.c.customer_id.in_(select(customers.c.id).where(_contains(customers.c.name, needle)))
    )
    return by_text.union_all(by_customer)
