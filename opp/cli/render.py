"""The one place that prints records: table (tabulate), json, jsonl, csv or ids, always to stdout.

Commands hand over core records (or dicts) and, for tables, the columns to show. Machine formats keep
every key and never change shape when piped. Money is written from ``Decimal`` exactly, never via float.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from json.encoder import encode_basestring
from typing import Any, TextIO

from opp.core.dates import format_date, format_instant
from opp.core.values import plain


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    ids = "ids"


class PipeClosed(Exception):
    """The reader of stdout went away (``opp list | head -1``): stop quietly, successfully."""


@dataclass(frozen=True)
class Column:
    """A table column: its header, the record key it shows (``a.b`` reaches into nested dicts)."""

    header: str
    key: str
    width: int | None = None


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Rows of a table laid out together; longer tables go on in the widths of their first rows.
TABLE_CHUNK = 2000
# Set by the global --raw flag: CSV cells are written as they are, without the formula guard.
RAW_CSV = False


def _scalar_text(value: Any) -> str:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return format_date(value)
    return str(value)


def json_text(value: Any) -> str:
    """Compact JSON with Decimal written as an exact number and dates in the contract's forms."""
    # Looked up by exact type first: a listing writes millions of values, nearly all of these types.
    write = _JSON_OF_TYPE.get(type(value))
    if write is not None:
        return write(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, date):
        return '"' + _scalar_text(value) + '"'
    if isinstance(value, Mapping):
        return _json_object(value)
    if isinstance(value, list | tuple):
        return _json_array(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _json_object(value: Mapping[Any, Any]) -> str:
    of_type = _JSON_OF_TYPE.get
    return (
        "{"
        + ", ".join(
            [
                encode_basestring(str(key)) + ": " + (of_type(type(item)) or json_text)(item)
                for key, item in value.items()
            ]
        )
        + "}"
    )


def _json_array(value: Sequence[Any]) -> str:
    of_type = _JSON_OF_TYPE.get
    return "[" + ", ".join([(of_type(type(item)) or json_text)(item) for item in value]) + "]"


def _json_date(value: date) -> str:
    return '"' + format_date(value) + '"'


def _json_instant(value: datetime) -> str:
    return '"' + format_instant(value) + '"'


# ``encode_basestring`` is the C encoder json.dumps(..., ensure_ascii=False) uses for a string.
_JSON_OF_TYPE: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _: "null",
    float: json.dumps,
    Decimal: lambda value: format(value, "f"),
    date: _json_date,
    datetime: _json_instant,
    dict: _json_object,
    list: _json_array,
    tuple: _json_array,
}


def _lookup(record: Mapping[str, Any], key: str) -> Any:
    if "." not in key:
        return record.get(key)
    value: Any = record
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _cell(value: Any, width: int | None) -> Any:
    kind = type(value)
    if kind is str:
        text = value
    elif value is None:
        return ""
    elif kind is int or kind is bool:
        return value
    elif kind is Decimal:
        from opp.core.money.amounts import format_money

        return format_money(value)
    else:
        text = _scalar_text(value)
    if "\n" in text:
        text = text.replace("\n", " ")
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    from tabulate import tabulate

    body = [[_cell(_lookup(row, col.key), col.width) for col in columns] for row in rows]
    return tabulate(body, headers=[col.header for col in columns], disable_numparse=True, stralign="left")


def _vertical(record: Mapping[str, Any]) -> str:
    from tabulate import tabulate

    lines = []
    for key, value in record.items():
        if isinstance(value, list):
            continue
        if isinstance(value, Mapping):
            value = value.get("name", json_text(value))
        lines.append([key, _cell(value, None)])
    return tabulate(lines, tablefmt="plain", disable_numparse=True)


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row: nested records become ``key_sub`` columns (their ``name`` becomes ``key``); lists go."""
    row: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            for sub, item in flatten(value).items():
                row[key if sub == "name" else f"{key}_{sub}"] = item
        elif not isinstance(value, list):
            row[key] = value
    return row


def _csv_cell(value: Any, raw: bool) -> str:
    kind = type(value)
    if kind is str:
        text: str = value
    elif value is None:
        return ""
    elif kind is int:
        return int.__repr__(value)
    elif isinstance(value, Decimal):
        return format(value, "f")
    elif isinstance(value, str):
        text = str(value)
    else:
        return _scalar_text(value)
    if not raw and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


class _RowEnds:
    """The file csv writes to: each row it writes (one ``write`` a row) goes on, ended by "\\n"."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, line: str) -> int:
        return self.out.write(line[:-2] + "\n")


def _csv_writer(out: TextIO) -> Callable[[Iterable[Any]], None]:
    """A function writing one CSV row of cells to ``out``, ended by "\\n".

    Rows are formatted with "\\r\\n" because only then does csv quote a cell holding a carriage
    return (Python 3.11); each row's terminator is then turned back into "\\n".
    """
    writer = csv.writer(_RowEnds(out), lineterminator="\r\n")
    return writer.writerow


def _csv(rows: Iterator[Mapping[str, Any]], out: TextIO, raw: bool, *, streamed: bool) -> None:
    """The header is every key of every row, or for a stream (records of one kind) the first row's."""
    flat: Iterator[dict[str, Any]] = (flatten(row) for row in rows)
    headers: dict[str, None] = {}
    if streamed:
        first = next(flat, None)
        if first is not None:
            headers.update(dict.fromkeys(first))
            flat = itertools.chain([first], flat)
    else:
        held = list(flat)
        for row in held:
            headers.update(dict.fromkeys(row))
        flat = iter(held)
    write = _csv_writer(out)
    write(headers)
    for row in flat:
        write([_csv_cell(row.get(key), raw) for key in headers])


def _write_table(rows: Iterator[Mapping[str, Any]], columns: Sequence[Column], out: TextIO) -> None:
    """A table laid out by tabulate from its first :data:`TABLE_CHUNK` rows; any further rows (a
    listing of every deal) are written as they come in the same column widths, a longer cell cut
    with "…", so that a table of a million rows is never held in memory."""
    first = list(itertools.islice(rows, TABLE_CHUNK))
    text = _table(first, columns)
    out.write(text + "\n")
    if len(first) < TABLE_CHUNK:
        return
    widths = [len(dashes) for dashes in text.split("\n", 2)[1].split("  ")]
    # Each cell is cut to the narrower of its column's own width and the laid-out one.
    laid_out = [
        (_reader(col.key), min(width, col.width) if col.width is not None else width, width)
        for col, width in zip(columns, widths, strict=True)
    ]
    text_of = _cell_texts().get
    for row in rows:
        cells = []
        for read, cut, width in laid_out:
            value = read(row)
            as_text = text_of(type(value))
            cell = as_text(value) if as_text is not None else str(_cell(value, None))
            if len(cell) > cut:
                cell = cell[: cut - 1] + "…"
            cells.append(cell.ljust(width))
        out.write("  ".join(cells).rstrip() + "\n")


def _reader(key: str) -> Callable[[Mapping[str, Any]], Any]:
    """A function reading ``key`` (``a.b`` reaches into nested dicts) from a row."""
    if "." in key:
        return lambda row: _lookup(row, key)
    return lambda row: row.get(key)


def _one_line(text: str) -> str:
    return text.replace("\n", " ") if "\n" in text else text


def _cell_texts() -> dict[type, Callable[[Any], str]]:
    """A table cell's text by the exact type of its value, as :func:`_cell` writes it (the types
    nearly every cell has; any other goes through ``_cell``)."""
    from opp.core.money.amounts import format_money

    return {
        str: _one_line,
        int: int.__repr__,
        type(None): lambda _: "",
        Decimal: format_money,
        date: format_date,
        datetime: format_instant,
    }


def _id_of(record: Mapping[str, Any]) -> Any:
    for key in ("id", "number", "handle", "key", "code"):
        if key in record:
            return record[key]
    raise ValueError("record has no id")


def emit(
    data: Any,
    fmt: Format | str,
    *,
    columns: Sequence[Column] | None = None,
    extra_tables: Iterable[tuple[str, Sequence[Any], Sequence[Column]]] = (),
    raw: bool | None = None,
    empty: str | None = None,
) -> int:
    """Print one record (an object in JSON) or a list of records (an array) in the chosen format, and
    return how many records were printed.

    ``data`` may be an iterator (a generator of records from the core): it is then written as it is
    read and never held whole. Its first record is read before anything is written, so that an error
    the core raises on starting (a bad option) leaves stdout empty.
    """
    fmt = Format(fmt)
    streamed = isinstance(data, Iterator)
    if streamed:
        whole: Any = None
        single = False
        records = (plain(item) for item in data)
        head = next(records, None)
        rows: Iterator[Mapping[str, Any]] = iter(()) if head is None else itertools.chain([head], records)
    else:
        whole = plain(data)
        single = isinstance(whole, Mapping)
        rows = iter([whole] if single else whole)
    count = 0

    def counted() -> Iterator[Mapping[str, Any]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    out = sys.stdout
    try:
        if fmt is Format.json and single:
            out.write(json_text(whole) + "\n")
            count = 1
        elif fmt is Format.json:
            out.write("[")
            for row in counted():
                out.write((", " if count > 1 else "") + json_text(row))
            out.write("]\n")
        elif fmt is Format.jsonl:
            for row in counted():
                out.write(json_text(row) + "\n")
        elif fmt is Format.csv:
            _csv(counted(), out, RAW_CSV if raw is None else raw, streamed=streamed)
        elif fmt is Format.ids:
            for row in counted():  # records, or the ids alone (opp.core.pipeline.deals.iter_deal_ids)
                out.write(f"{row if isinstance(row, int) else _id_of(row)}\n")
        else:
            if single and columns is None:
                out.write(_vertical(whole) + "\n")
                count = 1
            else:
                peeked = next(counted(), None)
                if peeked is not None:
                    chosen = columns or [Column(k, k) for k in peeked]
                    _write_table(itertools.chain([peeked], counted()), chosen, out)
                elif empty:
                    message(empty)
            for title, extra_rows, extra_columns in extra_tables:
                out.write(f"\n{title}\n")
                out.write(_table([plain(r) for r in extra_rows], extra_columns) + "\n")
        out.flush()
    except BrokenPipeError as exc:
        raise PipeClosed from exc
    return count


def message(text: str) -> None:
    """A human message (never data): to stderr, so that stdout stays clean for pipes."""
    sys.stderr.write(text + "\n")


def stream_records(
    records: Iterable[Mapping[str, Any]],
    fmt: Format | str,
    columns: Sequence[str],
    *,
    raw: bool | None = None,
) -> int:
    """Write flat records as they come, never holding them all (``opp export``); returns how many.

    CSV has a header of ``columns`` and the formula guard (unless raw); JSON is one array written an
    element at a time; JSONL one object a line.
    """
    fmt = Format(fmt)
    out = sys.stdout
    guard_off = RAW_CSV if raw is None else raw
    write_csv = _csv_writer(out)
    count = 0
    try:
        if fmt is Format.csv:
            write_csv(columns)
        elif fmt is Format.json:
            out.write("[")
        for record in records:
            if fmt is Format.csv:
                write_csv(_csv_cell(record.get(key), guard_off) for key in columns)
            elif fmt is Format.json:
                out.write(("\n" if count == 0 else ",\n") + json_text({k: record.get(k) for k in columns}))
            else:
                out.write(json_text({k: record.get(k) for k in columns}) + "\n")
            count += 1
        if fmt is Format.json:
            out.write("\n]\n" if count else "]\n")
        out.flush()
    except BrokenPipeError as exc:
        raise PipeClosed from exc
    return count
