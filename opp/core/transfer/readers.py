"""Reading deal files row by row: CSV, JSON and JSONL, streamed, each row with the line it starts on.

The readers never hold a whole file: they yield one :class:`SourceRow` at a time, so ``opp import`` can
load a million-row file in constant memory. A row that cannot be read (a CSV line with the wrong number
of fields, a JSON value that is not an object) is yielded with its ``error`` so that the importer can
list every bad line; a file that cannot be read at all (not UTF-8, malformed quoting) raises
:class:`~opp.core.errors.Invalid` naming the line.

``opp import`` (:mod:`opp.core.transfer.importer`) and the demo's loader (:mod:`opp.core.transfer.demo`)
share these readers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NamedTuple

from opp.core.errors import Invalid

COLUMNS = (
    "title",
    "customer",
    "customer_kind",
    "value",
    "currency",
    "stage",
    "probability",
    "expected_close",
    "external_ref",
    "assignee",
    "description",
    "created_at",
    "closed_at",
    "lost_reason",
    "category",
)
REQUIRED_COLUMNS = ("title", "customer")
RATE_COLUMNS = ("from", "to", "rate", "date")
FORMATS = ("csv", "json", "jsonl")
_EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_CHUNK = 64 * 1024


class SourceRow(NamedTuple):
    """One record of a file: its cells by (lower-case) column name, or why it could not be read.

    A named tuple: a million-row import makes a million of them.
    """

    line: int
    cells: Mapping[str, str]
    error: str | None = None
    # The cells as written, only on a row that could not be read (for a file of rejected rows).
    raw: tuple[str, ...] | None = None
    blank: bool = False  # a blank line, or a line of empty cells: no row at all


# Extra columns an export writes so that it imports back without losing anything: the deal's id in
# the database it came from, its customer's email and phone, and its assignee's name.
ROUND_TRIP_COLUMNS = ("id", "customer_email", "customer_phone", "assignee_name")


# A header check: takes the file's column names as written, returns them normalised (or raises Invalid).
HeaderCheck = Callable[[list[str]], list[str]]


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read through it (for a progress bar's fraction)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self.bytes_read += count
        return count

    def close(self) -> None:
        if self.raw is not None and hasattr(self.raw, "close"):
            self.raw.close()
        super().close()


def format_of(name: str, given: str | None) -> str:
    """The file's format: ``given`` (``--format``), else from the extension; standard input is CSV."""
    if given:
        fmt = given.strip().lower()
        if fmt not in FORMATS:
            raise Invalid(f"unknown import format {given!r}", hint="use csv, json or jsonl")
        return fmt
    if name == "-":
        return "csv"
    by_extension = _EXTENSIONS.get(Path(name).suffix.lower())
    if by_extension is None:
        raise Invalid(
            f"cannot tell the format of {name} from its extension",
            hint="name it .csv, .json or .jsonl, or say its format",
            reason="unknown-extension",
        )
    return by_extension


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading, with the failures worded for the user."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise Invalid(f"no such file: {path}") from None
    except IsADirectoryError:
        raise Invalid(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}") from None


def text_stream(binary: IO[bytes] | io.RawIOBase) -> IO[str]:
    """UTF-8 text (a byte-order mark is skipped), read lazily; newlines are left to the CSV reader."""
    buffered = io.BufferedReader(binary, _CHUNK) if isinstance(binary, io.RawIOBase) else binary
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")


def iter_rows(stream: IO[str], fmt: str, source: str, check_header: HeaderCheck) -> Iterator[SourceRow]:
    """The rows of a CSV, JSON (an array of objects) or JSONL (one object a line) text stream."""
    try:
        if fmt == "csv":
            yield from _csv_rows(stream, source, check_header)
        elif fmt == "json":
            yield from _json_array_rows(stream, source, check_header)
        else:
            yield from _jsonl_rows(stream, check_header)
    except UnicodeDecodeError:
        raise Invalid(f"{source} is not UTF-8 text", hint="save the file as UTF-8") from None


def _csv_rows(stream: IO[str], source: str, check_header: HeaderCheck) -> Iterator[SourceRow]:
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise Invalid(f"{source} is empty", hint="the first line names the columns")
        if "\x00" in "".join(header):
            raise Invalid(f"line 1: a column name {_NUL}")
        columns = check_header(header)
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            joined = "".join(cells)
            if not joined.strip():  # a blank line, or only blank cells
                yield SourceRow(line, {}, blank=True)
                continue
            if "\x00" in joined:
                yield SourceRow(line, {}, f"a cell {_NUL}", raw=tuple(cells))
                continue
            if len(cells) != len(columns):
                message = f"{len(cells)} fields, but the header names {len(columns)} columns"
                yield SourceRow(line, {}, message, raw=tuple(cells))
                continue
            yield SourceRow(line, dict(zip(columns, cells, strict=True)))
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num}: malformed CSV: {exc}") from None


def _cell_text(value: Any) -> str:
    """A JSON value as the text a CSV cell would hold (numbers exactly, null as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"a {type(value).__name__} where a single value belongs")


def _json_row(line: int, value: Any, header: dict[str, str], check_header: HeaderCheck) -> SourceRow:
    """One JSON object as a row; its keys are checked like a CSV header (each key once)."""
    if not isinstance(value, dict):
        return SourceRow(line, {}, f"expected an object, found a JSON {type(value).__name__}")
    keys = list(value)
    if any("\x00" in key or (isinstance(item, str) and "\x00" in item) for key, item in value.items()):
        return SourceRow(line, {}, f"a key or value {_NUL}")
    new = [key for key in keys if key not in header]
    if new:
        for key, name in zip(new, check_header(new), strict=True):
            header[key] = name
    names = [header[key] for key in keys]
    if len(set(names)) != len(names):
        return SourceRow(line, {}, "two keys name the same column")
    try:
        return SourceRow(line, {header[key]: _cell_text(item) for key, item in value.items()})
    except ValueError as exc:
        return SourceRow(line, {}, str(exc))


# Numbers as Decimal: exact, and a whole number of thousands of digits is read whole (int() refuses
# more than 4,300), so the value check can refuse it in words.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
_TOO_DEEP = "JSON nested too deeply"
# Text never holds NUL: PostgreSQL cannot store it, and SQLite's copy would differ from it.
_NUL = "holds a NUL character, which text cannot hold"


def _loads(text: str) -> Any:
    return _DECODER.decode(text)


def _jsonl_rows(stream: IO[str], check_header: HeaderCheck) -> Iterator[SourceRow]:
    header: dict[str, str] = {}
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            yield SourceRow(number, {}, blank=True)
            continue
        try:
            value = _loads(text)
        except json.JSONDecodeError as exc:
            yield SourceRow(number, {}, f"malformed JSON: {exc.msg}")
            continue
        except RecursionError:
            yield SourceRow(number, {}, _TOO_DEEP)
            continue
        yield _json_row(number, value, header, check_header)


def _json_array_rows(stream: IO[str], source: str, check_header: HeaderCheck) -> Iterator[SourceRow]:
    """The objects of a top-level JSON array, decoded one at a time from a sliding buffer."""
    decoder = _DECODER
    header: dict[str, str] = {}
    buffer = ""
    position = 0  # the next unread character of buffer
    counted = 0  # newlines before buffer[counted] are in `line`
    line = 1
    eof = False

    def here() -> int:
        nonlocal counted, line
        line += buffer.count("\n", counted, position)
        counted = position
        return line

    def fill() -> bool:
        """Read another chunk, dropping what has been consumed; False at the end of the file."""
        nonlocal buffer, position, counted, eof
        if eof:
            return False
        chunk = stream.read(_CHUNK)
        if not chunk:
            eof = True
            return False
        here()
        buffer = buffer[position:] + chunk
        position = counted = 0
        return True

    def next_char() -> str:
        """The next non-blank character (not consumed), or '' at the end of the file."""
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n":
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not fill():
                return ""

    if next_char() != "[":
        raise Invalid(
            f"{source} is not a JSON array of objects",
            hint="for one object a line use JSON lines",
            reason="json-not-array",
        )
    position += 1
    if next_char() == "]":
        position += 1
    else:
        while True:
            if next_char() == "":
                raise Invalid(f"line {here()}: the JSON array is not closed")
            start_line = here()
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, position)
                except json.JSONDecodeError as exc:
                    if fill():
                        continue
                    raise Invalid(f"line {start_line}: malformed JSON: {exc.msg}") from None
                except RecursionError:
                    raise Invalid(f"line {start_line}: {_TOO_DEEP}") from None
                if end == len(buffer) and not isinstance(value, dict | list | str) and fill():
                    continue  # a number may go on in the next chunk
                break
            position = end
            yield _json_row(start_line, value, header, check_header)
            char = next_char()
            if char == "]":
                position += 1
                break
            if char != ",":
                raise Invalid(f"line {here()}: malformed JSON: expected ',' or ']' after an object")
            position += 1
    if next_char() != "":
        raise Invalid(f"line {here()}: text after the end of the JSON array")


def demo_header(allowed: tuple[str, ...], required: tuple[str, ...]) -> HeaderCheck:
    """A strict header check: only ``allowed`` columns, each once, the ``required`` ones present."""

    def check(header: list[str]) -> list[str]:
        columns = [name.strip().lower() for name in header]
        unknown = [name for name in columns if name not in allowed]
        if unknown:
            raise Invalid(f"line 1: unknown column {unknown[0]!r}", hint="columns are " + ", ".join(allowed))
        repeated = [name for name in columns if columns.count(name) > 1]
        if repeated:
            raise Invalid(f"line 1: column {repeated[0]!r} appears twice")
        missing = [name for name in required if name not in columns]
        if missing:
            raise Invalid(f"line 1: the column {missing[0]!r} is required")
        return columns

    return check
