"""Secondary indexes built once after a bulk write instead of a row at a time during it.

A table's secondary indexes are kept up to date row by row as rows go in: each new row is a search and
an insert into every index, in key order rather than the rows' order, so once an index outgrows the
page cache most of those inserts touch a page that is not in memory. The deals carry ten indexes (the
aggregates' covering ones among them), history four; an import of 100,000 deals into an empty database
spent about 3 s of its 10 s there. Building an index from the finished table sorts its entries once,
and takes about a fifth of that.

:func:`deferred_indexes` does that for a bulk import on SQLite: once the rows written to a table are
at least as many as the table held before, so that building its indexes again costs less than keeping
them would for the rest of the write, the table's secondary indexes (not the unique ones, which check
the rows as they go in) are dropped, and made again, from the same SQL, when the block ends. It all
happens in the caller's write transaction: a reader sees the indexes as they were committed, and a
failed import rolls the drops back with its rows. PostgreSQL is left alone: there ``DROP INDEX`` locks
the table against readers until the transaction ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection

#: The fewest rows written to a table before its indexes are dropped: a small import keeps them.
AT_LEAST = 5_000


@dataclass
class _Table:
    name: str
    #: The highest id before the block (rows above it are the block's) and how many rows there were.
    first_max_id: int
    rows_before: int
    #: The CREATE INDEX statements of the indexes dropped (none until they are).
    dropped: list[str] = field(default_factory=list)


@dataclass
class DeferredIndexes:
    """What :func:`deferred_indexes` yields: call :meth:`check` after each batch written."""

    conn: Connection
    tables: list[_Table]

    def check(self) -> None:
        """Drop a table's secondary indexes once the rows written to it since the start are at least
        :data:`AT_LEAST` and at least as many as it held before."""
        for table in self.tables:
            if table.dropped:
                continue
            written = self._max_id(table.name) - table.first_max_id
            if written >= max(AT_LEAST, table.rows_before):
                self._drop(table)

    def _max_id(self, name: str) -> int:
        return int(self.conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {name}").scalar_one())

    def _drop(self, table: _Table) -> None:
        found = self.conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table.name,),
        ).all()
        for name, sql in found:
            if sql.lstrip().upper().startswith("CREATE UNIQUE"):
                continue  # it checks the rows as they go in
            self.conn.exec_driver_sql(f'DROP INDEX "{name}"')
            table.dropped.append(sql)

    def restore(self) -> None:
        """Make the dropped indexes again (each from its own SQL, over every row now there)."""
        for table in self.tables:
            for sql in table.dropped:
                self.conn.exec_driver_sql(sql)
            table.dropped = []


@contextmanager
def deferred_indexes(conn: Connection, tables: Sequence[str]) -> Iterator[DeferredIndexes]:
    """Within a bulk write to ``tables`` (each with an integer ``id`` that grows), in the caller's
    write transaction: their secondary indexes dropped when that pays (see the module's docstring) and
    made again when the block ends. If the block fails, nothing is made again: the transaction must
    roll back, which brings them back. Does nothing on PostgreSQL."""
    if conn.dialect.name != "sqlite":
        yield DeferredIndexes(conn, [])
        return
    watched = []
    for name in tables:
        span = f"SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM {name}"
        low, high = conn.exec_driver_sql(span).one()
        # Ids have gaps where rows were removed: the span is an upper bound on the rows, which only
        # ever keeps the indexes longer.
        watched.append(_Table(name, int(high), max(int(high) - int(low) + 1, 0)))
    deferred = DeferredIndexes(conn, watched)
    deferred.check()
    yield deferred
    deferred.restore()
