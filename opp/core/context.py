"""The context every service works in: the open store, the acting user and the clock.

Writes go through :meth:`Context.unit_of_work`, which holds one write transaction for the whole command
and records each history event in it, so a change and its history commit together or not at all.
Database failures are translated here, once, into :class:`~opp.core.errors.Unavailable`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict, TypeVar, Unpack

from sqlalchemy import Connection, Insert, event, insert
from sqlalchemy.exc import (
    DatabaseError,
    DataError,
    DBAPIError,
    IntegrityError,
    InvalidRequestError,
    OperationalError,
)

from opp.core.clock import Clock
from opp.core.errors import Conflict, Invalid, Unavailable
from opp.core.refs import handle_key
from opp.store import schema
from opp.store.dialect import insert_rows
from opp.store.engine import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    BadDatabaseURL,
    ForeignDatabase,
    NoFolder,
    SchemaTooNew,
    Store,
    mask_password,
    open_store,
)

A = TypeVar("A")
B = TypeVar("B")


def _naive_utc(instant: datetime) -> datetime:
    """Instants are stored as naive UTC."""
    return instant.replace(tzinfo=None)


class EventDetails(TypedDict, total=False):
    """What a history event may carry besides its deal and action (each absent is null)."""

    field: str | None
    old: str | None
    new: str | None
    note: str | None
    at: datetime | None
    #: The task or ticket an event of action ``task`` or ``ticket`` concerns.
    task_id: int | None
    ticket_id: int | None


@dataclass
class UnitOfWork:
    """One command's write: a connection inside a write transaction, and its history."""

    conn: Connection
    actor: str
    at: datetime
    command_name: str
    _command_id: int | None = field(default=None, init=False)
    #: The first few records this command writes ("deal 12"), to name them should its output fail.
    _records: list[str] = field(default_factory=list, init=False)
    _more_records: bool = field(default=False, init=False)

    def command_id(self) -> int:
        """This command's row in ``commands``, made on first use: it groups the events it writes."""
        if self._command_id is None:
            self._command_id = self.conn.execute(
                insert(schema.commands).values(at=self.at, actor=self.actor, name=self.command_name)
            ).inserted_primary_key[0]  # type: ignore[index]
        assert self._command_id is not None
        return self._command_id

    def event(self, opportunity_id: int, action: str, **details: Unpack[EventDetails]) -> dict[str, Any]:
        """The history row of one event of this command, not yet written (see :meth:`record`).

        ``at`` defaults to the command's instant; imports pass the time the event happened elsewhere.
        """
        if not self._more_records:  # a bulk import names its first few deals only, and cheaply
            self.note_record(f"deal {opportunity_id}")
        return {
            "opportunity_id": opportunity_id,
            "command_id": self.command_id(),
            "at": details.get("at") or self.at,
            "actor": self.actor,
            "action": action,
            "field": details.get("field"),
            "old": details.get("old"),
            "new": details.get("new"),
            "note": details.get("note"),
            "task_id": details.get("task_id"),
            "ticket_id": details.get("ticket_id"),
        }

    def record(self, opportunity_id: int, action: str, **details: Unpack[EventDetails]) -> int:
        """Append one history event to this command's transaction; returns the event id."""
        row = self.event(opportunity_id, action, **details)
        event_id: int = self.conn.execute(insert(schema.history), row).inserted_primary_key[0]  # type: ignore[index]
        return event_id

    def record_many(self, events: Sequence[dict[str, Any]]) -> None:
        """Append events made by :meth:`event` in one executemany (bulk writes such as imports)."""
        insert_rows(self.conn, schema.history, events)

    def note_deals(self, deal_ids: Sequence[int]) -> None:
        """Remember the deals a bulk write made (the first few by name, as :meth:`event` does)."""
        for deal_id in deal_ids[: _RECORDS_NAMED + 1]:
            self.note_record(f"deal {deal_id}")

    def note_record(self, name: str) -> None:
        """Remember a record this command writes (the first few; the rest as "and more")."""
        if name in self._records:
            return
        if len(self._records) < _RECORDS_NAMED:
            self._records.append(name)
        else:
            self._more_records = True

    def records(self) -> list[str]:
        """The records this command wrote, as people name them: ``["deal 12", "customer 3"]``."""
        return self._records + (["more"] if self._more_records else [])

    def _note_insert(self, _conn: Any, statement: Any, multiparams: Any, _params: Any, *rest: Any) -> None:
        """A row inserted one at a time into a table people know by name (SQLAlchemy's after_execute)."""
        if not isinstance(statement, Insert) or len(multiparams) > 1:
            return
        noun = _RECORD_NOUNS.get(statement.table.name)
        result = rest[-1]
        if noun is None or result.context.executemany:
            return
        try:
            key = result.inserted_primary_key
        except InvalidRequestError:  # an INSERT ... RETURNING: its rows are the caller's to read
            return
        if key:
            self.note_record(f"{noun} {key[0]}")


_RECORDS_NAMED = 5
_RECORD_NOUNS = {
    "opportunities": "deal",
    "customers": "customer",
    "users": "user",
    "stages": "stage",
    "services": "service",
    "billables": "billable line",
    "rates": "rate",
    "invoices": "invoice",
    "settings": "setting",
    "tasks": "task",
    "tickets": "ticket",
}


class Context:
    """An open database, the acting user and the clock: what every service function takes first."""

    def __init__(self, store: Store, *, actor: str, clock: Clock | None = None) -> None:
        self.store = store
        self.actor = handle_key(actor)
        self.clock = clock or Clock()
        #: The records saved by this context's committed units of work (see :meth:`UnitOfWork.records`).
        self.saved: list[str] = []
        #: Per thread, the read transaction every read goes to (see :meth:`reading_at`).
        self._pins = threading.local()

    def now(self) -> datetime:
        """The command's instant as stored: naive UTC, whole seconds."""
        return _naive_utc(self.clock.now())

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction with database failures worded for the user: a new one, or within
        :meth:`reading_at` in this thread, that one."""
        pinned = self._pinned()
        if pinned is not None:
            with translated_errors(self.store):
                yield pinned
            return
        with translated_errors(self.store), self.store.read() as conn:
            yield conn

    @contextmanager
    def reading_at(self, conn: Connection) -> Iterator[None]:
        """Within the block, every read of this thread (:meth:`reading`) goes to ``conn``'s read
        transaction: a page made of several reports, each of which opens its own reads, reads them all
        at one instant. Work meant to run side by side then runs in this thread, on ``conn``."""
        self._pins.conn = conn
        try:
            yield
        finally:
            self._pins.conn = None

    def _pinned(self) -> Connection | None:
        conn: Connection | None = getattr(self._pins, "conn", None)
        return conn

    @contextmanager
    def unit_of_work(self, command_name: str) -> Iterator[UnitOfWork]:
        """A write transaction holding the write lock; commits on success, leaves nothing on failure."""
        with translated_errors(self.store), self.store.write() as conn:
            uow = UnitOfWork(conn=conn, actor=self.actor, at=self.now(), command_name=command_name)
            event.listen(conn, "after_execute", uow._note_insert)
            yield uow
        self.saved += [name for name in uow.records() if name not in self.saved]

    def side_by_side(self, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
        """The answers of two reading jobs, ``first`` run in a thread of its own while this one runs
        ``second``: on a machine of two cores, a page made of several reports takes the time of the
        longer part, not of both. Each job opens its own reading transactions (see :meth:`reading`),
        as it would run one after the other; where two connections would not see the same database (an
        in-memory SQLite one), or within :meth:`reading_at`, they do run one after the other. The two
        share the page cache one connection has alone (:meth:`opp.store.engine.Store.sharing_reads`).
        When both fail, ``first``'s error is the one raised, as if it had run first."""
        if not self.store.shared_between_connections or self._pinned() is not None:
            return first(), second()
        with self.store.sharing_reads(2):
            return _run_side_by_side(first, second)

    def reading_side_by_side(
        self, first: Callable[[Connection], A], second: Callable[[Connection], B]
    ) -> tuple[A, B]:
        """The answers of two reading jobs over one snapshot of the database: two parts of one answer
        that must agree (a whole and a part of it, or two halves adding up to a whole). Each job is
        given a read transaction of its own, both seeing the same commit
        (:meth:`opp.store.engine.Store.read_pair`); ``first`` runs in a thread of its own while this
        one runs ``second``, as in :meth:`side_by_side`. Where two transactions cannot be had at one
        instant, or within :meth:`reading_at`, both jobs run one after the other in one transaction."""
        pinned = self._pinned()
        if pinned is not None:
            with translated_errors(self.store):
                return first(pinned), second(pinned)
        with translated_errors(self.store):
            with self.store.sharing_reads(2), self.store.read_pair() as pair:
                if pair is not None:
                    return _run_side_by_side(lambda: first(pair[0]), lambda: second(pair[1]))
            with self.store.read() as conn:
                return first(conn), second(conn)

    def close(self) -> None:
        self.store.close()


def _run_side_by_side(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """``first`` in a thread of its own while this one runs ``second``; when both fail, ``first``'s
    error is the one raised, as if it had run first."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = pool.submit(first)
        try:
            answer = second()
        except BaseException:
            started.result()  # its error, if it failed too
            raise
        return started.result(), answer


@contextmanager
def translated_errors(store: Store) -> Iterator[None]:
    """Failures of a working database (locks, lost connections, refused writes), worded for the user."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(
            f"the database refused the change: {_first_line(exc.orig)}",
            hint="another operator may have changed the same record; try again",
        ) from exc
    except (OperationalError, DataError) as exc:
        if overflowed(exc):
            raise Conflict(
                "a sum or figure the database computed is more than opp can sum "
                "(at most 9,223,372,036,854,775,807 units of a currency's minor unit)",
                hint="narrow it to fewer deals, or report in a currency of smaller figures",
            ) from exc
        if isinstance(exc, DataError):
            raise
        raise _unavailable(exc, store) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable(f"lost the connection to {mask_password(store.url)}") from exc
        raise


def overflowed(exc: DBAPIError) -> bool:
    """Whether the database gave up on an integer too large for 64 bits (SQLite: "integer overflow";
    PostgreSQL: "bigint out of range", SQLSTATE 22003)."""
    message = _first_line(exc.orig).lower()
    return (
        "integer overflow" in message
        or "integer out of range" in message
        or "bigint out of range" in message
        or getattr(exc.orig, "sqlstate", None) == "22003"
    )


def _first_line(exc: Any) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _unavailable(exc: OperationalError, store: Store) -> Unavailable:
    message = _first_line(exc.orig)
    if "locked" in message or "lock timeout" in message or "canceling statement" in message:
        return Unavailable(
            f"the database is locked by another writer; gave up after {store.lock_timeout:g} s",
            hint="try again, or wait longer with OPP_LOCK_TIMEOUT=SECONDS",
        )
    return Unavailable(f"cannot use the database {mask_password(store.url)}: {message}")


def parse_lock_timeout(text: str | None) -> float:
    """OPP_LOCK_TIMEOUT in seconds (default 30)."""
    if text is None or not text.strip():
        return DEFAULT_LOCK_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise Invalid(f"OPP_LOCK_TIMEOUT must be a number of seconds, not {text!r}", hint="for example 30")
    return seconds


@contextmanager
def opening(db: str) -> Iterator[None]:
    """Failures while opening (and migrating) a database, worded for the user."""
    try:
        yield
    except SchemaTooNew as exc:
        raise Unavailable(str(exc), hint="upgrade opp to work with this database") from exc
    except BadDatabaseURL as exc:
        raise Invalid(str(exc), hint="give a file path or a URL such as sqlite:///path/opp.db") from exc
    except NoFolder as exc:
        hint = "create the folder first"
        if "://" not in db and db.lower().startswith(("file:", "sqlite:")):
            hint = "a database URL has ://, such as sqlite:///path/opp.db; anything else is a file path"
        raise Unavailable(f"cannot create the database {db!r}: {exc}", hint=hint) from exc
    except ForeignDatabase as exc:
        raise Unavailable(
            f"cannot use {db!r} as an opp database: {exc}",
            hint="opp leaves other programs' databases alone; give a new file",
        ) from exc
    except DatabaseError as exc:  # OperationalError, or a file that is not a database at all
        raise Unavailable(f"cannot open the database {mask_password(db)}: {_first_line(exc.orig)}") from exc
    except ModuleNotFoundError as exc:
        raise Unavailable(
            f"the database driver {exc.name!r} is not installed", hint="pip install 'psycopg[binary]'"
        ) from exc
    except OSError as exc:
        raise Unavailable(f"cannot create the database {mask_password(db)!r}: {exc.strerror}") from exc


def open_context(
    db: str, *, actor: str, clock: Clock | None = None, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> Context:
    """Open the database at a path or URL (creating and migrating it as needed) for ``actor``."""
    with opening(db):
        store = open_store(db, lock_timeout=lock_timeout)
    return Context(store, actor=actor, clock=clock)
