"""The one place that prints records: table (tabulate), json, jsonl, csv or ids, always to stdout.

Every command prints through :func:`emit`. It declares the formats it prints by its ``--format`` option
(:data:`RECORD_FORMATS`, or :data:`LIST_FORMATS` for a list of records, which adds ``ids``), and hands
over core records (or dicts) and, for tables, the columns to show. A grouped result (a forecast, a bill)
also hands over its rows: JSON prints the result whole, CSV and table one row per group or line. Machine
formats keep every key and never change shape when piped; a table shows every cell as readable text
(a nested record by its name, never raw JSON or a Python value). Money is written from ``Decimal``
exactly, never via float.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
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
    ics = "ics"


#: The formats of a command that prints one record or a grouped result.
RECORD_FORMATS = (Format.table, Format.json, Format.jsonl, Format.csv)
#: The formats of a command that prints a list of records: also their ids, one a line.
LIST_FORMATS = (*RECORD_FORMATS, Format.ids)
#: The formats of a list of dated things (tasks): also an iCalendar file (:func:`emit_calendar`).
CALENDAR_FORMATS = (*LIST_FORMATS, Format.ics)

#: The name a table, chart or page gives the group without a key (no assignee, no expected close);
#: JSON and CSV keep null and an empty cell.
UNSET_GROUP = "(none)"


def format_names(formats: Sequence[Format]) -> str:
    """``table, json, jsonl or csv``: the formats as a help text or an error names them."""
    names = [str(fmt) for fmt in formats]
    return ", ".join(names[:-1]) + " or " + names[-1]


class PipeClosed(Exception):
    """The reader of stdout went away (``opp list | head -1``): stop quietly, successfully."""


@dataclass(frozen=True)
class Column:
    """A table column: its header, the record key it shows (``a.b`` reaches into nested dicts).

    ``width`` cuts every cell to that many characters (unless ``--wide``). At a terminal too narrow
    for the table, text columns are shortened down to ``keep`` characters (default
    :data:`MIN_FITTED`); when that is not enough, the columns with a ``drop`` rank are left out, the
    lowest rank first, before any text is cut further.
    """

    header: str
    key: str
    width: int | None = None
    keep: int | None = None
    drop: int | None = None
    #: ``(key, names)``: in the rows whose ``key`` is one of ``names`` this column's text is an amount
    #: (a history event's old and new value of a deal's ``value``), shown as tables show money.
    money_when: tuple[str, frozenset[str]] | None = None


def _money_text(value: Any) -> Any:
    """An amount stored as text (``12500.50``) as a table shows money (``12,500.50``); any other value
    as it is."""
    if type(value) is not str:
        return value
    from decimal import InvalidOperation

    try:
        amount = Decimal(value)
    except InvalidOperation:
        return value
    return amount if amount.is_finite() else value


def _value_of(row: Mapping[str, Any], col: Column) -> Any:
    """The value a column shows of a row (see :attr:`Column.money_when`)."""
    value = _lookup(row, col.key)
    if col.money_when is not None and row.get(col.money_when[0]) in col.money_when[1]:
        return _money_text(value)
    return value


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Rows of a table laid out together; longer tables go on in the widths of their first rows.
TABLE_CHUNK = 2000
# Set by the global --raw flag: CSV cells are written as they are, without the formula guard.
RAW_CSV = False
# Set by the global --wide flag: tables print every cell whole, neither fitted to the terminal nor cut.
WIDE = False
#: A text column is never shortened below this many characters (or its header) to fit the terminal.
MIN_FITTED = 5
#: What a table cell shows escaped: C0 and C1 controls (ESC, BEL, CR, tab ...), DEL, and the marks
#: and overrides that reorder text (a title could otherwise recolour the terminal or hide its own end).
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED_ESCAPES = {"\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """Stored text as a table shows it: on one line, and controls escaped (``\\x1b``, ``\\u202e``)
    so that no cell can move the cursor, ring, recolour or reorder the terminal. JSON and CSV keep
    the exact text."""
    if "\n" in text:
        text = text.replace("\n", " ")
    if _CONTROL.search(text) is not None:
        text = _CONTROL.sub(_escape, text)
    return text


def _at_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width() -> int | None:
    """The width a table is fitted to at a terminal (``COLUMNS`` first, as ``shutil`` reads it);
    ``None`` (printed whole) with ``--wide``, or into a pipe or file."""
    if WIDE or not _at_terminal():
        return None
    import shutil

    return shutil.get_terminal_size().columns


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
    keys = _JSON_KEYS
    parts = []
    for key, item in value.items():
        # A listing writes the same few keys on every line: each is encoded once.
        name = keys.get(key) if type(key) is str else None
        if name is None:
            name = encode_basestring(str(key)) + ": "
            if type(key) is str and len(keys) < 10_000:
                keys[key] = name
        write = of_type(type(item))
        parts.append(name + (write(item) if write is not None else json_text(item)))
    return "{" + ", ".join(parts) + "}"


_JSON_KEYS: dict[Any, str] = {}


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


def readable(value: Any) -> str:
    """A value as a reader sees it in a table cell: money grouped, a flag as yes/no, a nested record by
    its name or title (else its fields as ``key: value``), a list item by item; never JSON or a Python
    value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        from opp.core.money.amounts import format_money

        return format_money(value)
    if isinstance(value, Mapping):
        for label in ("name", "title"):
            if label in value:
                return readable(value[label])
        return ", ".join(f"{key}: {readable(item)}" for key, item in value.items() if item is not None)
    if isinstance(value, list | tuple):
        return ", ".join(readable(item) for item in value)
    return _scalar_text(value)


def _cell(value: Any, width: int | None) -> Any:
    kind = type(value)
    if kind is str:
        text = value
    elif value is None:
        return ""
    elif kind is int:
        return value
    else:
        text = readable(value)
    text = printable(text)
    if width is not None and not WIDE and len(text) > width:
        text = text[: width - 1] + "…"
    return text


def _is_text(values: Iterable[Any]) -> bool:
    """Whether a column holds text a reader can do with less of (titles, names), not figures or dates."""
    kinds = {type(value) for value in values if value is not None}
    return bool(kinds) and all(kind is str or issubclass(kind, Mapping) for kind in kinds)


def _natural(body: list[list[Any]], headers: list[str]) -> list[int]:
    return [max([len(header)] + [len(str(row[i])) for row in body]) for i, header in enumerate(headers)]


def _fit(
    body: list[list[Any]],
    headers: list[str],
    text: Sequence[bool],
    width: int,
    keep: Sequence[int | None] | None = None,
) -> None:
    """Shorten the widest text columns (cells and header, with "…") until the table fits ``width``,
    none below its ``keep`` (default :data:`MIN_FITTED`); figures, dates and ids are never cut."""
    natural = _natural(body, headers)
    widths = list(natural)
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    keeps = keep or [None] * len(widths)
    while excess > 0:
        floors = {i: keeps[i] or MIN_FITTED for i in range(len(widths)) if text[i]}
        candidates = [i for i, floor in floors.items() if widths[i] > floor]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        runner_up = max((widths[i] for i in candidates if i != widest), default=0)
        target = max(floors[widest], widths[widest] - excess, min(runner_up, widths[widest] - 1))
        excess -= widths[widest] - target
        widths[widest] = target
    for i, (fitted, whole) in enumerate(zip(widths, natural, strict=True)):
        if fitted < whole:
            if len(headers[i]) > fitted:
                headers[i] = headers[i][: fitted - 1] + "…"
            for row in body:
                cell = str(row[i])
                if len(cell) > fitted:
                    row[i] = cell[: fitted - 1] + "…"


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], width: int | None = None) -> str:
    """The rows laid out by tabulate, fitted to ``width`` when given."""
    return _laid_out(rows, columns, width)[0]


def _laid_out(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], width: int | None
) -> tuple[str, list[Column]]:
    """The rows laid out by tabulate, fitted to ``width`` when given, and the columns shown (at a
    narrow terminal the droppable ones may be left out, see :class:`Column`)."""
    from tabulate import tabulate

    shown = list(columns)
    values = [[_value_of(row, col) for col in shown] for row in rows]
    body = [[_cell(value, col.width) for value, col in zip(line, shown, strict=True)] for line in values]
    headers = [printable(col.header) for col in shown]
    if width is None or not body:
        return tabulate(body, headers=headers, disable_numparse=True, stralign="left"), shown
    text = [_is_text(line[i] for line in values) for i in range(len(shown))]
    while True:
        natural = _natural(body, headers)
        floors = [
            min(whole, col.keep or MIN_FITTED) if is_text else whole
            for whole, col, is_text in zip(natural, shown, text, strict=True)
        ]
        droppable = [i for i, col in enumerate(shown) if col.drop is not None]
        if sum(floors) + 2 * (len(floors) - 1) <= width or not droppable:
            break
        gone = min(droppable, key=lambda i: shown[i].drop or 0)
        del shown[gone], headers[gone], text[gone]
        for line in body:
            del line[gone]
    _fit(body, headers, text, width, [col.keep for col in shown])
    return _tight(lambda: tabulate(body, headers=headers, disable_numparse=True, stralign="left")), shown


def _tight(lay_out: Callable[[], str]) -> str:
    """A table laid out without the padding tabulate adds to headers, so that it fits a terminal."""
    import tabulate

    padding = tabulate.MIN_PADDING
    tabulate.MIN_PADDING = 0
    try:
        return lay_out()
    finally:
        tabulate.MIN_PADDING = padding


def _vertical(record: Mapping[str, Any], width: int | None = None) -> str:
    """One record as ``key  value`` lines, the values shortened to fit ``width`` when given; a nested
    record without a name gives a line per field (``counts.users``); lists are left to the tables
    that follow."""
    from tabulate import tabulate

    def lines(prefix: str, fields: Mapping[str, Any]) -> Iterator[list[Any]]:
        for key, value in fields.items():
            if isinstance(value, list):
                continue
            if isinstance(value, Mapping) and not ("name" in value or "title" in value):
                yield from lines(f"{prefix}{key}.", value)
            else:
                yield [prefix + key, _cell(value, None)]

    body = list(lines("", record))
    if width is None or not body:
        return tabulate(body, tablefmt="plain", disable_numparse=True)
    _fit(body, ["", ""], [False, True], width)
    return _tight(lambda: tabulate(body, tablefmt="plain", disable_numparse=True))


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
    # A text that already begins with ' before a formula character is guarded too (''=x), so that
    # import, which removes one such ', brings every text back exactly as it was.
    if not raw and (
        text.startswith(FORMULA_PREFIXES)
        or (text[:1] == "'" and text.lstrip("'").startswith(FORMULA_PREFIXES))
    ):
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


def _csv(
    rows: Iterator[Mapping[str, Any]],
    out: TextIO,
    raw: bool,
    *,
    streamed: bool,
    header: Sequence[str] = (),
    flat_already: bool = False,
    empty_header: Sequence[str] = (),
    known_header: Sequence[str] = (),
) -> None:
    """The header is ``header`` when given (and then the only keys written), else ``known_header`` (that
    of the record class listed, so that a nested record that is null in some rows keeps its columns),
    else every key of every row or, for a stream (records of one kind), the first row's. With no rows,
    ``empty_header`` alone (the header of the records the listing would have had); with none known,
    nothing."""
    write = _csv_writer(out)
    flat: Iterator[Mapping[str, Any]] = rows if flat_already else (flatten(row) for row in rows)
    if header:
        write(header)
        for row in flat:
            write([_csv_cell(row.get(key), raw) for key in header])
        return
    headers: dict[str, None] = {}
    if known_header:
        headers.update(dict.fromkeys(known_header))
    elif streamed:
        first = next(flat, None)
        if first is not None:
            headers.update(dict.fromkeys(first))
            flat = itertools.chain([first], flat)
    else:
        held = list(flat)
        for row in held:
            headers.update(dict.fromkeys(row))
        flat = iter(held)
    if known_header:
        first = next(flat, None)
        if first is None:
            write(known_header)
            return
        flat = itertools.chain([first], flat)
    elif not headers:
        if empty_header:
            write(empty_header)
        return
    write(headers)
    for row in flat:
        write([_csv_cell(row.get(key), raw) for key in headers])


def csv_header(record_type: type) -> list[str]:
    """The CSV header of a listing of ``record_type`` (a core record class), as :func:`flatten` makes
    it from a record: for an empty listing, which has no record to take it from."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(record_type)
    header: list[str] = []
    for field in dataclasses.fields(record_type):
        kind = hints[field.name]
        optional = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(optional) == 1 and isinstance(optional[0], type) and dataclasses.is_dataclass(optional[0]):
            kind = optional[0]  # a nested record or null (next_task): its columns, empty when null
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            header += [field.name if sub == "name" else f"{field.name}_{sub}" for sub in csv_header(kind)]
        elif typing.get_origin(kind) not in (list, tuple, dict):  # a dict's keys come with the rows
            header.append(field.name)
    return header


def _write_table(rows: Iterator[Any], columns: Sequence[Column], out: TextIO) -> None:
    """A table laid out by tabulate from its first :data:`TABLE_CHUNK` rows; any further rows (a
    listing of every deal) are written as they come in the same column widths, a longer cell cut
    with "…" (whole with ``--wide``, which promises every cell whole: it pushes the rest of its row
    to the right), so that a table of a million rows is never held in memory.

    ``rows`` are dicts or records: a record of a plain record class (see :func:`_plain_record_type`)
    has its cells read from its attributes, never made a dict (the same values: its ``as_dict`` is
    its fields); any other is made plain first."""
    first = [plain(row) for row in itertools.islice(rows, TABLE_CHUNK)]
    text, columns = _laid_out(first, columns, terminal_width())
    out.write(text + "\n")
    if len(first) < TABLE_CHUNK:
        return
    widths = [len(dashes) for dashes in text.split("\n", 2)[1].split("  ")]
    # Each cell is cut to the narrower of its column's own width and the laid-out one.
    # A plain key is read with the row's get, any other column through its reader.
    laid_out = [
        (
            col.key,
            None if "." not in col.key and col.money_when is None else _reader(col),
            min(width, col.width) if col.width is not None and not WIDE else width,
            width,
        )
        for col, width in zip(columns, widths, strict=True)
    ]
    text_of = _cell_texts().get
    direct: dict[type, Callable[[Any], tuple[Any, ...]] | None] = {}
    lines: list[str] = []
    for row in rows:
        kind = type(row)
        if kind not in direct:
            direct[kind] = _attribute_reader(kind, columns)
        read_all = direct[kind]
        if read_all is not None:
            values: Iterable[Any] = read_all(row)
        else:
            row = plain(row)
            get = row.get
            values = [get(key) if read is None else read(row) for key, read, _, _ in laid_out]
        cells = []
        for value, (_, _, cut, width) in zip(values, laid_out, strict=True):
            as_text = text_of(type(value))
            cell = as_text(value) if as_text is not None else str(_cell(plain(value), None))
            if len(cell) > cut and not WIDE:
                cell = cell[: cut - 1] + "…"
            cells.append(cell.ljust(width))
        lines.append("  ".join(cells).rstrip() + "\n")
        if len(lines) == TABLE_CHUNK:  # written a chunk at a time (a pipe closed early stops it there)
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))


def _attribute_reader(kind: type, columns: Sequence[Column]) -> Callable[[Any], tuple[Any, ...]] | None:
    """A function reading the cells of ``columns`` from a record of class ``kind`` by its attributes,
    all at once, when that gives what its dict would: a plain record class (``as_dict`` is its
    fields), plain keys that are its fields or ``a.b`` into a field that is a record of such a class
    (a nested record is always there: checked here on its class), no money columns. None otherwise."""
    import dataclasses
    import typing

    if _plain_record_type_of(kind) is None:
        return None
    keys = []
    for col in columns:
        if col.money_when is not None:
            return None
        owner, parts = kind, col.key.split(".")
        for depth, part in enumerate(parts):
            names = {f.name: f for f in dataclasses.fields(owner)}
            if part not in names:
                return None
            if depth < len(parts) - 1:
                nested = typing.get_type_hints(owner).get(part)
                if not isinstance(nested, type) or _plain_record_type_of(nested) is None:
                    return None  # a nested record that may be null, or not a record
                owner = nested
        keys.append(col.key)
    from operator import attrgetter

    if len(keys) == 1:
        one = attrgetter(keys[0])
        return lambda row: (one(row),)
    return attrgetter(*keys)


def _plain_record_type_of(kind: type) -> type | None:
    """:func:`_plain_record_type` of a class."""
    import dataclasses

    if not dataclasses.is_dataclass(kind) or not hasattr(kind, "as_dict"):
        return None
    if any("as_dict" in vars(base) for base in kind.__mro__ if base.__name__ != "Record"):
        return None
    return kind


def _reader(col: Column) -> Callable[[Mapping[str, Any]], Any]:
    """A function reading a column's value from a row (``a.b`` reaches into nested dicts)."""
    key = col.key
    if col.money_when is not None:
        return lambda row: _value_of(row, col)
    if "." in key:
        return lambda row: _lookup(row, key)
    return lambda row: row.get(key)


def _cell_texts() -> dict[type, Callable[[Any], str]]:
    """A table cell's text by the exact type of its value, as :func:`_cell` writes it (the types
    nearly every cell has; any other goes through ``_cell``)."""
    from opp.core.money.amounts import format_money

    return {
        str: printable,
        int: int.__repr__,
        type(None): lambda _: "",
        Decimal: format_money,
        date: format_date,
        datetime: format_instant,
    }


def _plain_record_type(item: Any) -> type | None:
    """The record class of a listed item whose keys are its fields (a core record that keeps the
    base ``as_dict``), whose CSV header :func:`csv_header` then knows; None for anything else."""
    return _plain_record_type_of(type(item))


def _id_of(record: Mapping[str, Any]) -> Any:
    for key in ("id", "number", "handle", "key", "code"):
        if key in record:
            return record[key]
    from opp.core.errors import Invalid

    raise Invalid("these records have no ids to list", hint=f"use --format {format_names(RECORD_FORMATS)}")


def emit(
    data: Any,
    fmt: Format | str,
    *,
    columns: Sequence[Column] | None = None,
    rows: Iterable[Any] | None = None,
    extra_tables: Iterable[tuple[str, Sequence[Any], Sequence[Column]]] = (),
    fields: Sequence[str] = (),
    of: type | None = None,
    raw: bool = False,
    empty: str | None = None,
) -> int:
    """Print one record (an object in JSON) or a list of records (an array) in the chosen format, and
    return how many records were printed.

    ``rows`` makes ``data`` a grouped result: JSON and JSONL print ``data`` whole, CSV prints ``rows``
    (one per group or line), and so does a table in ``columns`` (without columns, a table shows a
    single record's fields, then ``extra_tables``). ``fields`` are the keys of flat records
    to write, in order (CSV's header even when there are none); ``of`` the record class of a listing,
    whose CSV header an empty listing prints. ``raw`` turns the CSV formula guard off, as the global
    ``--raw`` does. ``ids`` prints each record's id, and is refused (exit 2) for a single record.

    ``data`` may be an iterator (a generator of records from the core): it is then written as it is
    read and never held whole. Its first record is read before anything is written, so that an error
    the core raises on starting (a bad option) leaves stdout empty.
    """
    fmt = Format(fmt)
    if rows is not None and (fmt is Format.csv or (fmt is Format.table and columns is not None)):
        data = list(rows)
    streamed = isinstance(data, Iterator)
    listed_type: type | None = None
    if fmt is Format.csv and not fields and rows is None:
        if streamed:
            raw_first = next(data, None)
            data = iter(()) if raw_first is None else itertools.chain([raw_first], data)
            listed_type = _plain_record_type(raw_first)
        elif isinstance(data, list) and data:
            listed_type = _plain_record_type(data[0])
    if streamed:
        whole: Any = None
        single = False
        records: Iterator[Any] = (
            ({key: item.get(key) for key in fields} for item in data)
            if fields
            # A table in given columns reads the records themselves (see _write_table).
            else data
            if fmt is Format.table and columns is not None
            else (plain(item) for item in data)
        )
        head = next(records, None)
        listed: Iterator[Mapping[str, Any]] = iter(()) if head is None else itertools.chain([head], records)
    else:
        whole = plain(data)
        single = isinstance(whole, Mapping)
        if fields:
            whole = [{key: row.get(key) for key in fields} for row in whole]
        listed = iter([whole] if single else whole)
    if fmt is Format.ids and (single or rows is not None):
        from opp.core.errors import Invalid

        raise Invalid(
            "--format ids lists the ids of a list of records, and this prints one",
            hint=f"use --format {format_names(RECORD_FORMATS)}",
        )
    count = 0

    def counted() -> Iterator[Mapping[str, Any]]:
        nonlocal count
        for row in listed:
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
            _csv(
                counted(),
                out,
                RAW_CSV or raw,
                streamed=streamed,
                header=fields,
                flat_already=bool(fields),
                empty_header=csv_header(of) if of is not None else (),
                known_header=csv_header(listed_type) if listed_type is not None else (),
            )
        elif fmt is Format.ids:
            for row in counted():  # records, or the ids alone (opp.core.pipeline.deals.iter_deal_ids)
                out.write(f"{row if isinstance(row, int) else _id_of(row)}\n")
        else:
            if single and columns is None:
                out.write(_vertical(whole, terminal_width()) + "\n")
                count = 1
            else:
                peeked = next(counted(), None)
                if peeked is not None:
                    chosen = columns or [Column(k, k) for k in peeked]
                    _write_table(itertools.chain([peeked], counted()), chosen, out)
                elif empty:
                    message(empty)
            for title, extra_rows, extra_columns in extra_tables:
                if extra_rows:
                    out.write(f"\n{title}\n")
                    table = _table([plain(r) for r in extra_rows], extra_columns, terminal_width())
                    out.write(table + "\n")
        out.flush()
    except BrokenPipeError as exc:
        raise PipeClosed from exc
    return count


@dataclass(frozen=True)
class CalendarEvent:
    """An all-day event of a calendar: ``uid`` stays the same for the same thing, so that a calendar
    imported again updates its events instead of adding them twice; ``stamp`` is when it was made."""

    uid: str
    day: date
    summary: str
    description: str
    stamp: datetime


def emit_calendar(events: Iterable[CalendarEvent], *, name: str = "opp") -> int:
    """Write one iCalendar (RFC 5545) VCALENDAR with an all-day VEVENT per event (``DTSTART;VALUE=DATE``),
    with the maintained ``icalendar`` package, loaded only here. Returns how many events were written."""
    from datetime import UTC, timedelta

    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//opp//opp sales pipeline//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    count = 0
    for found in events:
        event = icalendar.Event()
        event.add("uid", found.uid)
        event.add(
            "dtstamp", found.stamp.astimezone(UTC) if found.stamp.tzinfo else found.stamp.replace(tzinfo=UTC)
        )
        event.add("dtstart", found.day)
        event.add("dtend", found.day + timedelta(days=1))
        event.add("summary", found.summary)
        event.add("description", found.description)
        calendar.add_component(event)
        count += 1
    try:
        sys.stdout.write(calendar.to_ical().decode("utf-8"))
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise PipeClosed from exc
    return count


def message(text: str) -> None:
    """A human message (never data): to stderr, so that stdout stays clean for pipes."""
    sys.stderr.write(text + "\n")
