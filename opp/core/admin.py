"""Looking after the database itself: what it holds, upgrading, backing up, and moving it elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opp.core.context import Context, open_context, opening, translated_errors
from opp.core.errors import Conflict, Invalid, Unavailable
from opp.core.records import Record
from opp.core.wording import count_of
from opp.store import admin
from opp.store.engine import HEAD, StoreError, mask_password, open_store, schema_revision


@dataclass(frozen=True)
class DatabaseInfo(Record):
    url: str
    backend: str
    schema: str | None
    latest_schema: str
    path: str | None
    size_bytes: int | None
    #: Whether ``--search`` looks text up in an index (else it reads every deal; see opp.store.search).
    search_index: bool
    counts: dict[str, int]


@dataclass(frozen=True)
class Upgrade(Record):
    url: str
    schema_before: str | None
    schema: str
    search_index: bool


@dataclass(frozen=True)
class Backup(Record):
    path: str
    size_bytes: int


@dataclass(frozen=True)
class Copy(Record):
    to: str
    counts: dict[str, int]


def _sqlite_path(ctx: Context) -> Path | None:
    database = ctx.store.engine.url.database
    return Path(database) if ctx.store.is_sqlite and database else None


def database_info(ctx: Context) -> DatabaseInfo:
    """The database's location (password masked), schema revision and rows per table.

    Deleted deals (``opp delete``) keep their rows for history and undo; ``opportunities`` counts the
    others and ``deleted_opportunities``, right after it, the deleted ones."""
    from opp.store import search

    with ctx.reading() as conn:
        revision = schema_revision(conn)
        counts = _split_deleted(admin.table_counts(conn), admin.deleted_deal_count(conn))
        indexed = search.installed(conn)
    path = _sqlite_path(ctx)
    return DatabaseInfo(
        url=mask_password(ctx.store.url),
        backend=ctx.store.engine.dialect.name,
        schema=revision,
        latest_schema=HEAD,
        path=str(path) if path else None,
        size_bytes=path.stat().st_size if path and path.exists() else None,
        search_index=indexed,
        counts=counts,
    )


def _split_deleted(counts: dict[str, int], deleted: int) -> dict[str, int]:
    split: dict[str, int] = {}
    for table, count in counts.items():
        if table == "opportunities":
            split[table] = count - deleted
            split["deleted_opportunities"] = deleted
        else:
            split[table] = count
    return split


def upgrade_database(db: str, *, lock_timeout: float) -> Upgrade:
    """Bring the schema to this opp's latest (which opening does too) and say from where.

    A search index that could not be made before (PostgreSQL without the pg_trgm extension, which an
    administrator may have added since) is tried again.
    """
    from opp.store import search
    from opp.store.engine import ensure_current

    with opening(db):
        store = open_store(db, lock_timeout=lock_timeout, migrate=False)
        try:
            with translated_errors(store):
                before = ensure_current(store)
                with store.write() as conn:
                    indexed = search.installed(conn) or search.install(conn)
        finally:
            store.close()
    return Upgrade(url=mask_password(store.url), schema_before=before, schema=HEAD, search_index=indexed)


def backup_database(ctx: Context, destination: str, *, force: bool = False) -> Backup:
    """A consistent copy of a SQLite database to a new owner-only file, even while others write.

    The copy is made beside ``destination`` and renamed into place (see :mod:`opp.core.files`), so a
    backup that is interrupted leaves no half file; an existing file is replaced only with ``force``.
    """
    from opp.core.files import write_file

    if not ctx.store.is_sqlite:
        raise Conflict(
            "backup copies SQLite databases",
            hint="for PostgreSQL use pg_dump, or copy it into a SQLite database first",
            reason="backup-needs-sqlite",
        )

    live = _sqlite_path(ctx)
    if (
        live is not None
        and destination.strip()
        and Path(destination).expanduser().resolve() == live.resolve()
    ):
        raise Invalid("the database cannot be backed up onto itself", hint="give a new file name")

    def fill(scratch: Path) -> None:
        try:
            with translated_errors(ctx.store):
                admin.sqlite_backup(ctx.store, scratch)
        except StoreError as exc:
            raise Unavailable(f"cannot write {destination}: {exc}") from exc

    path = write_file(destination, fill, force=force)
    return Backup(path=str(path), size_bytes=path.stat().st_size)


def copy_database(ctx: Context, to: str) -> Copy:
    """Copy everything (ids, history, invoices, sequences) into an empty database at ``to``."""
    target = open_context(to, actor=ctx.actor, clock=ctx.clock, lock_timeout=ctx.store.lock_timeout)
    try:
        if target.store.url == ctx.store.url:
            raise Invalid("the database cannot be copied onto itself")
        with target.unit_of_work("db copy") as uow:
            held = {
                name: count
                for name, count in admin.table_counts(uow.conn).items()
                if count and name not in admin.SEEDED_TABLES
            }
            if held:
                name, count = next(iter(held.items()))
                raise Conflict(
                    f"{mask_password(target.store.url)} is not empty ({name}: {count_of(count, 'row')})",
                    hint="copy into a new, empty database",
                )
            with ctx.reading() as source:
                counts = admin.copy_rows(source, uow.conn)
    finally:
        target.close()
    return Copy(to=mask_password(target.store.url), counts=counts)
