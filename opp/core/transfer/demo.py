"""Loading the example data that ships with opp (``opp demo``): deals and exchange rates from CSV files.

The deals go through the importer's row rules (:mod:`opp.core.transfer.importer`), so the demo data and
an imported file mean the same thing; unlike ``opp import`` this only creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opp.core.context import Context
from opp.core.errors import Invalid, OppError
from opp.core.money.rates import Rate
from opp.core.records import Record
from opp.core.transfer.readers import (
    COLUMNS,
    RATE_COLUMNS,
    REQUIRED_COLUMNS,
    SourceRow,
    demo_header,
    iter_rows,
    open_binary,
    text_stream,
)


@dataclass(frozen=True)
class LoadSummary(Record):
    """What a load added."""

    created: int
    customers_created: int
    users_created: int


def _read_rows(
    path: Path, allowed: tuple[str, ...] = COLUMNS, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> list[SourceRow]:
    """A small CSV file's rows (rates); a row that cannot be read is refused with its line."""
    with text_stream(open_binary(path)) as stream:
        rows = [
            row
            for row in iter_rows(stream, "csv", str(path), demo_header(allowed, required))
            if not row.blank
        ]
    for row in rows:
        if row.error is not None:
            raise Invalid(f"line {row.line}: {row.error}")
    return rows


def load_deals_csv(ctx: Context, path: str | Path, *, only_into_empty: bool = False) -> LoadSummary:
    """Create a deal for every row of the CSV file at ``path``, all in one transaction.

    Unlike ``opp import`` this only creates: an external ref already in the database is a conflict, and
    one repeated in the file is refused. ``only_into_empty`` refuses (Conflict) a database that already
    holds deals, so sample data never mixes with real data and loading it twice is refused.
    """
    from opp.core.transfer.importer import ImportOptions, import_deals

    summary = import_deals(
        ctx,
        Path(path),
        ImportOptions(fmt="csv", create_only=True, only_into_empty=only_into_empty, command="demo"),
    )
    return LoadSummary(
        created=summary.created,
        customers_created=summary.customers_created,
        users_created=summary.users_created,
    )


def load_rates_csv(ctx: Context, path: str | Path) -> list[Rate]:
    """Set every exchange rate of a CSV file with the columns ``from,to,rate,date``."""
    from opp.core.money.rates import set_rate

    added = []
    for row in _read_rows(Path(path), RATE_COLUMNS, RATE_COLUMNS[:3]):
        cells = row.cells
        try:
            added.append(
                set_rate(ctx, cells["from"], cells["to"], cells["rate"], on=cells.get("date") or None)
            )
        except OppError as exc:
            exc.message = f"line {row.line}: {exc.message}"
            raise
    return added
