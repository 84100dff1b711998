"""Opening a database: URL resolution, engine set-up, transactions and automatic migration.

Everything dialect-specific about connecting lives here: SQLite pragmas, owner-only file creation and
the write transaction that takes SQLite's write lock up front (``BEGIN IMMEDIATE``) so that two writers
never both read stale data and then collide.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

from opp.store.dialect import register_sqlite_functions

# Every schema revision this opp knows, oldest first; a database at another one is newer than opp.
REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
)
HEAD = REVISIONS[-1]

DEFAULT_LOCK_TIMEOUT_SECONDS = 30.0
#: SQLite's page cache in a read transaction and in a write, in KiB (see the "begin" hook).
READ_PAGE_CACHE_KIB = 32 * 1024
WRITE_PAGE_CACHE_KIB = 2000
#: How many times :meth:`Store.read_pair` tries to begin two reads at one instant between commits.
_PAIR_TRIES = 3
#: What PostgreSQL's exported snapshot ids look like (``00000003-0000001B-1``).
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f-]+")


class StoreError(Exception):
    """A problem with the database itself, raised to the core, which words it for the user."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer opp than this one."""


class BadDatabaseURL(StoreError):
    """The --db value is neither a usable path nor a URL SQLAlchemy understands."""


class NoFolder(StoreError):
    """A new SQLite file was asked for in a folder that does not exist (opp creates no folders)."""


class ForeignDatabase(StoreError):
    """A database file that holds tables opp did not make: opp leaves it alone."""


def resolve_url(db: str) -> URL:
    """Turn a path or URL into an SQLAlchemy URL.

    ``db`` is a URL only when it contains ``://``; anything else is a file path taken literally (``?``,
    ``%`` and ``#`` included), made absolute.
    """
    if "://" in db:
        if db.startswith("postgresql://") or db.startswith("postgres://"):
            db = "postgresql+psycopg://" + db.split("://", 1)[1]
        try:
            return make_url(db)
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
            raise BadDatabaseURL(f"cannot parse database URL {mask_password(db)!r}") from exc
    return URL.create("sqlite", database=str(Path(db).expanduser().resolve()))


_PASSWORD_IN_QUERY = re.compile(r"(?i)((?:^|[?&;])password=)[^&;]*")
_USER_PASSWORD = re.compile(r"(://[^/@:]*:)[^/]*@")


def mask_password(url: str | URL) -> str:
    """The URL with any password (``user:pass@`` and ``?password=``) replaced by ``***``, for messages
    and ``db info``; a file path as it is."""
    if isinstance(url, URL):
        if url.drivername.startswith("sqlite") and not url.query:
            return f"{url.drivername}:///{url.database or ''}"  # the path as given, not percent-encoded
        text_ = url.render_as_string(hide_password=True)
    elif "://" not in url:
        return url
    else:
        text_ = url
    text_ = _USER_PASSWORD.sub(r"\1***@", text_)
    return _PASSWORD_IN_QUERY.sub(r"\1***", text_)


def _create_owner_only(path: Path) -> None:
    """Create an empty SQLite file readable by its owner alone, before SQLite creates it 0644."""
    if not path.parent.is_dir():
        raise NoFolder(f"there is no folder {path.parent}")
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Store:
    """An open database: an engine plus the two kinds of transaction opp uses."""

    def __init__(self, url: URL, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.is_sqlite = url.drivername.startswith("sqlite")
        self.lock_timeout = lock_timeout
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            database = url.database
            if database and database != ":memory:":
                _create_owner_only(Path(database))
            kwargs["connect_args"] = {"timeout": lock_timeout}
        elif url.drivername.startswith("postgresql"):
            # No JIT: opp's queries are short, and the forecast's currency CASE looks costly enough to
            # the planner that compiling it (seconds) would cost far more than running it. Every session,
            # reading or writing, gives up waiting for a lock, or on a statement, after the lock timeout
            # (0 would mean "wait for ever" to PostgreSQL: the shortest wait it knows instead).
            timeout_ms = max(1, int(lock_timeout * 1000))
            kwargs["connect_args"] = {
                "options": f"-c jit=off -c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms}"
            }
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except ArgumentError as exc:  # NoSuchModuleError: a scheme SQLAlchemy has no dialect for
            raise BadDatabaseURL(
                f"unknown kind of database {url.drivername!r} in {mask_password(url)!r}"
            ) from exc
        self.wrote = False
        #: The page cache each read transaction gets (SQLite), in KiB: see :meth:`sharing_reads`.
        self.read_cache_kib = READ_PAGE_CACHE_KIB
        if self.is_sqlite:
            self._set_up_sqlite(self.engine)

    def _set_up_sqlite(self, engine: Engine) -> None:
        timeout_ms = int(self.lock_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event below decide how each transaction starts.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()
            register_sqlite_functions(dbapi_connection)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("opp_write", False)
            # A read gets a page cache of 32 MiB (SQLite's default is 2 MiB), filled only as pages are
            # read: a report over a million deals that looks up each deal's custom field or history
            # reads the same pages again and again, and each page read from outside the cache is a
            # system call (``forecast --by region`` at 1M deals: 2.25 s with the default, 1.3 s with
            # this). A write keeps the default: an import's pages would fill the cache for no gain,
            # and a million rows' import must stay under 150 MB.
            kib = WRITE_PAGE_CACHE_KIB if write else self.read_cache_kib
            conn.exec_driver_sql(f"PRAGMA cache_size = -{kib}")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot for the whole command (on PostgreSQL at
        REPEATABLE READ, so that every statement sees the database as the first one did, as on SQLite)."""
        with self._reading_connection() as conn, conn.begin():
            yield conn

    def _reading_connection(self) -> Connection:
        conn = self.engine.connect()
        return conn if self.is_sqlite else conn.execution_options(isolation_level="REPEATABLE READ")

    @contextmanager
    def read_pair(self) -> Iterator[tuple[Connection, Connection] | None]:
        """Two read transactions on two connections that see the database at one same instant, for two
        parts of one answer read side by side; None where that cannot be had: an in-memory SQLite
        database (each connection sees its own), or writers committing in between every try.

        PostgreSQL: the second transaction takes the snapshot the first exports. SQLite (WAL): a read
        transaction sees the database as its first read found it; the second connection's data version,
        read before the first transaction starts and again when its own has, tells that nobody committed
        in between, so both saw the same commit."""
        if not self.shared_between_connections:
            yield None
            return
        with self._reading_connection() as first, self._reading_connection() as second:
            for _ in range(_PAIR_TRIES):
                if self._begin_pair(first, second):
                    try:
                        yield first, second
                    finally:
                        first.rollback()
                        second.rollback()
                    return
                first.rollback()
                second.rollback()
        yield None

    def _begin_pair(self, first: Connection, second: Connection) -> bool:
        """Begin a read transaction on each connection; whether both see the same snapshot."""
        if not self.is_sqlite:
            first.begin()
            snapshot = first.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            if not isinstance(snapshot, str) or not _SNAPSHOT_ID.fullmatch(snapshot):
                return False
            second.begin()
            second.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            return True
        before = second.exec_driver_sql("PRAGMA data_version").scalar()  # a transaction of its own
        second.rollback()
        first.begin()
        first.exec_driver_sql("PRAGMA data_version")  # the first read: this transaction's snapshot
        second.begin()
        return bool(second.exec_driver_sql("PRAGMA data_version").scalar() == before)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction that holds the write lock from its first statement to its commit."""
        with self.engine.connect().execution_options(opp_write=True) as conn, conn.begin():
            yield conn
        self.wrote = True

    def use_wal(self) -> None:
        """Switch a SQLite file to WAL, which it keeps; done only before opp writes its schema, so that a
        database opp refuses (a newer schema) is left byte for byte as it was."""
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()
        finally:
            raw.close()

    @contextmanager
    def sharing_reads(self, parts: int) -> Iterator[None]:
        """Within this block, ``parts`` connections read at once: each read transaction begun in it gets
        that share of the page cache one gets alone, so that the command's memory stays what it was."""
        whole = self.read_cache_kib
        self.read_cache_kib = max(1, whole // parts)
        try:
            yield
        finally:
            self.read_cache_kib = whole

    @property
    def shared_between_connections(self) -> bool:
        """Whether every connection sees the same database: all but an in-memory SQLite one, which is
        each connection's own."""
        return not (self.is_sqlite and self.url.database in (None, "", ":memory:"))

    def close(self) -> None:
        if self.is_sqlite and self.wrote:
            self._keep_statistics()
        self.engine.dispose()

    def _keep_statistics(self) -> None:
        """Let SQLite refresh its query-planner statistics where they are missing or out of date, as its
        documentation advises before a connection that changed data closes. Without them the planner
        guesses from the indexes alone, and picks worse plans on a big database (the stuck list sorted
        every open deal instead of reading them in order). Usually a no-op; when not, bounded by
        ``analysis_limit`` to a few milliseconds. PostgreSQL's autovacuum does this there."""
        try:
            with self.engine.connect() as conn:
                # Never wait for the lock here: the command's own work is done and committed.
                conn.exec_driver_sql("PRAGMA busy_timeout = 0")
                conn.exec_driver_sql("PRAGMA analysis_limit = 400")
                conn.exec_driver_sql("PRAGMA optimize")
                conn.commit()
        except DBAPIError:
            pass  # another writer holds the lock: the statistics can wait for a later command


def schema_revision(conn: Connection) -> str | None:
    """The database's schema revision, or None for a database opp has not set up yet (one cheap query)."""
    try:
        with conn.begin_nested():
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):
        return None


def ensure_current(store: Store) -> str | None:
    """Create or migrate the schema to HEAD and return the revision found before (None: a new database).

    Alembic is imported only when there is work for it.
    """
    with store.read() as conn:
        revision = schema_revision(conn)
        if revision is None and store.is_sqlite:
            _refuse_foreign(conn)
    if revision == HEAD:
        return revision
    if revision is not None and revision not in REVISIONS:
        raise SchemaTooNew(f"the database's schema ({revision}) is newer than this opp knows ({HEAD})")
    if store.is_sqlite:
        store.use_wal()
    with store.write() as conn:
        # Another process may have migrated while we waited for the write lock.
        if schema_revision(conn) == HEAD:
            return HEAD
        _run_alembic_upgrade(conn)
    return revision


def _refuse_foreign(conn: Connection) -> None:
    """A SQLite file opp has not set up must hold no tables: another program's file is left alone."""
    tables = (
        conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        )
        .scalars()
        .all()
    )
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise ForeignDatabase(f"the file holds tables opp did not make ({shown})")


def _run_alembic_upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = conn
    command.upgrade(config, HEAD)


def open_store(db: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS, migrate: bool = True) -> Store:
    """Open (creating and migrating as needed, unless ``migrate`` is false) the database at a path or URL."""
    store = Store(resolve_url(db), lock_timeout=lock_timeout)
    if not migrate:
        return store
    try:
        ensure_current(store)
    except BaseException:
        store.close()
        raise
    return store
