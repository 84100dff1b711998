"""Whole-database operations: counting, SQLite's online backup, and copying between databases.

These work on tables, not on deals: they know nothing of the domain, only how to move rows faithfully
(ids, history and sequences included) between SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, func, select, text, update

from opp.store.engine import Store, StoreError
from opp.store.schema import metadata

BATCH_ROWS = 2000
# Tables the first migration fills (the default stages): a copy replaces them with the source's.
SEEDED_TABLES = ("stages",)


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per table, in dependency order."""
    return {
        table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
        for table in metadata.sorted_tables
    }


def deleted_deal_count(conn: Connection) -> int:
    """How many deals are deleted (soft: status ``deleted``)."""
    deals = metadata.tables["opportunities"]
    return int(conn.execute(select(func.count()).where(deals.c.status == "deleted")).scalar_one())


def sqlite_backup(store: Store, destination: Path) -> None:
    """A consistent copy of a SQLite database while others may be writing (SQLite's backup API), into
    ``destination`` (an existing empty file, or a new one)."""
    raw = store.engine.raw_connection()
    try:
        source: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.Error as exc:  # the target's disk is full, or it cannot be written
        raise StoreError(str(exc)) from exc
    finally:
        raw.close()


def _self_references(table: Table) -> list[str]:
    return [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]


def _batches(conn: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    result = conn.execution_options(yield_per=BATCH_ROWS).execute(
        select(table).order_by(*table.primary_key.columns)
    )
    for partition in result.mappings().partitions():
        yield [dict(row) for row in partition]


def copy_rows(source: Connection, target: Connection) -> dict[str, int]:
    """Copy every table's rows from ``source`` to ``target`` (an empty database at the same schema),
    keeping ids; self-references (an undo pointing at a later command) are filled in afterwards."""
    copied: dict[str, int] = {}
    for seeded in SEEDED_TABLES:
        target.execute(metadata.tables[seeded].delete())
    for table in metadata.sorted_tables:
        deferred = _self_references(table)
        later: list[tuple[Any, dict[str, Any]]] = []
        count = 0
        for rows in _batches(source, table):
            if deferred:
                key = table.primary_key.columns.values()[0].name
                for row in rows:
                    values = {name: row[name] for name in deferred if row[name] is not None}
                    if values:
                        later.append((row[key], values))
                        row.update(dict.fromkeys(deferred))
            target.execute(table.insert(), rows)
            count += len(rows)
        for key_value, values in later:
            key_column = table.primary_key.columns.values()[0]
            target.execute(update(table).where(key_column == key_value).values(**values))
        copied[table.name] = count
    if target.dialect.name == "postgresql":
        _reset_sequences(target)
    return copied


def _reset_sequences(conn: Connection) -> None:
    """After inserting explicit ids, let PostgreSQL's sequences continue past the largest one."""
    for table in metadata.sorted_tables:
        columns = table.primary_key.columns.values()
        if len(columns) != 1 or columns[0].name != "id":
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 1), "
                f"(SELECT MAX(id) FROM {table.name}) IS NOT NULL)"
            )
        )
