"""``opp import``: deals from a CSV, JSON or JSONL file, streamed, in batches, in one transaction.

A row whose ``external_ref`` belongs to a deal updates that deal through the change path ``opp edit``
takes (:class:`opp.core.pipeline.changes.DealChange`: one ``import`` history event per changed field,
the stage set directly since an import loads data rather than making a sales step); an
identical row changes nothing; any other row creates a deal made by :func:`opp.core.pipeline.deals.new_deal`,
as ``opp create``'s are. Missing customers and users are created. The file is read row by row and
written in batches: the new deals of a batch go in with a few multi-row INSERTs, and their ``created``
events with one ``INSERT … SELECT`` (:func:`opp.core.pipeline.deals.insert_deals`), so a million-row file
is never held in memory and costs a few statements per batch rather than per row. Everything happens in
one transaction, so one bad row leaves the database exactly as it was. After the first bad row the rest
of the file is still checked (without writing) so that up to :data:`MAX_PROBLEMS` bad lines are reported
at once.

Files from another CRM are read through options: ``mapping`` (field -> column), ``stage_map`` (the
other system's stage names), ``date_order`` (for numeric dates such as ``3/1/2017``), a default currency
and customer, the kind of the customers created, and assignees given as display names.
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Connection,
    DateTime,
    RowMapping,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from opp.core import settings
from opp.core.collector import COLLECTOR_THRESHOLD
from opp.core.context import Context, UnitOfWork
from opp.core.dates import ORDERS, format_date, parse_date, parse_instant
from opp.core.errors import Conflict, Invalid, OppError
from opp.core.fields import Value, apply_values, defined_fields, parse_value
from opp.core.files import check_target, write_file
from opp.core.money.amounts import normalize_currency, parse_minor, parse_probability
from opp.core.pipeline.categories import parse_category
from opp.core.pipeline.changes import (
    KEEP,
    DealChange,
    FieldChange,
    clean_description,
    clean_reason,
    clean_ref,
    clean_title,
    ref_taken,
)
from opp.core.pipeline.customers import check_kind, customer_row, insert_customer
from opp.core.pipeline.deals import insert_deals, new_deal
from opp.core.pipeline.stages import Pipeline, load_pipeline, plan_move
from opp.core.records import Record, Stage
from opp.core.refs import clean_email, clean_text, handle_key, parse_handle, parse_id
from opp.core.transfer.readers import (
    COLUMNS,
    ROUND_TRIP_COLUMNS,
    CountingReader,
    HeaderCheck,
    SourceRow,
    format_of,
    iter_rows,
    open_binary,
    text_stream,
)
from opp.core.wording import count_of
from opp.store import schema, search
from opp.store.dialect import insert_returning_ids, insert_rows
from opp.store.indexes import deferred_indexes

o = schema.opportunities
us = schema.users
cu = schema.customers

FIELDS = COLUMNS + ROUND_TRIP_COLUMNS
BATCH_SIZE = 2000
MAX_PROBLEMS = 20
_CACHE_LIMIT = 10_000  # users and dates remembered between rows; the cache restarts beyond this
# Customers remembered between batches, the least recently used forgotten first (some 12 MB).
_CUSTOMER_CACHE = 60_000
_LOOKUP_CHUNK = 900  # values per IN (...): SQLite before 3.32 takes at most 999 parameters
# The look-ups a batch makes, with the list of values as one parameter (cheaper than a literal list).
_DEALS_BY_REF = select(o).where(o.c.external_ref.in_(bindparam("refs", expanding=True)))
_DEALS_BY_ID = select(o).where(o.c.id.in_(bindparam("ids", expanding=True)))
_CUSTOMERS_BY_NAME = (
    select(cu.c.id, cu.c.kind, cu.c.name)
    .where(cu.c.name.in_(bindparam("names", expanding=True)))
    .order_by(cu.c.id)
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_IGNORED = "\x00ignored:"  # a column --ignore names is read under this prefix, which no field has


def strip_formula_guard(text: str) -> str:
    """A CSV cell as it was before opp's export guarded it: one leading ``'`` is removed when what
    follows, past any further ``'``, begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return.

    The export guards exactly those texts (``=x`` is written ``'=x``, ``'=x`` is written ``''=x``), so
    every text comes back as it was exported; a text with an apostrophe of its own before anything
    else (``'tis``, ``'90s``) is never touched.
    """
    if text[:1] == "'" and text.lstrip("'").startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


_HANDLE_OTHER = re.compile(r"[^a-z0-9]+")

# Called after each batch with the rows read so far and the fraction of the file read (None if unknown).
Progress = Callable[[int, float | None], None]


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file; every field has the default of a file in opp's own columns."""

    fmt: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)  # field -> column (lower case)
    stage_map: Mapping[str, str] = field(default_factory=dict)  # value (lower case) -> stage
    date_order: str | None = None
    currency: str | None = None
    default_customer: str | None = None
    customer_kind: str | None = None
    dry_run: bool = False
    strip_formula_guard: bool = True
    ignore: Collection[str] = ()  # columns never read (lower case), even when named as a field
    require: Collection[str] = ()  # fields every row must fill
    skip_invalid: bool = False  # leave problem rows out (and count them) instead of refusing the file
    rejects: Path | None = None  # with skip_invalid: the problem rows, as CSV with their line and error
    force: bool = False  # rejects may replace a file that is there
    # How the rejects file words a row's error (the CLI adds its hint, naming its own options); the
    # message alone when None.
    wording: Callable[[OppError], str] | None = None
    # The demo's loader: create only (a ref already present is a conflict), handles only, stop at once.
    create_only: bool = False
    only_into_empty: bool = False
    command: str = "import"
    batch_size: int = BATCH_SIZE


@dataclass(frozen=True)
class ImportSummary(Record):
    """What an import changed (or, with ``dry_run``, would change)."""

    created: int
    updated: int
    unchanged: int
    customers_created: int
    users_created: int
    skipped: int  # problem rows left out (skip_invalid)
    blank_rows: int  # blank lines and lines of empty cells, which are no rows
    probability_adjusted: int  # won or lost rows whose probability column said other than 100 or 0
    dry_run: bool
    new_users: list[str]
    columns_not_read: list[str]  # a mapped file's columns that fed nothing (and were not ignored)


class ImportRejected(Invalid):
    """One or more bad rows: nothing was imported. ``problems`` lists up to 20 of them, each with its line;
    ``first`` is the first row's error as raised (its class says what kind of problem it is)."""

    ADVICE = "nothing was imported; fix the file and run the import again"
    #: Said after the first bad row's hint (the CLI's wording of that hint is followed by it too).
    advice = ADVICE

    def __init__(self, problems: list[str], *, more: bool, first: OppError | None = None) -> None:
        others = [problem.split(":", 1)[0].removeprefix("line ") for problem in problems[1:]]
        message = problems[0]
        if others:
            message += f" (bad lines too: {', '.join(others)}{' and more' if more else ''})"
        super().__init__(
            message,
            hint=self.advised(first.hint if first is not None else None),
            reason=first.reason if first is not None else None,
            details=first.details if first is not None else None,
        )
        self.problems = problems
        self.more = more
        self.first = first

    @classmethod
    def advised(cls, hint: str | None) -> str:
        """A hint for the first bad row, followed by the advice every rejected import gets."""
        return f"{hint}; {cls.ADVICE}" if hint else cls.ADVICE


@dataclass(frozen=True, slots=True)
class Skipped:
    """A problem row left out by ``skip_invalid``: its line, its error, and its cells as read."""

    line: int
    error: OppError
    row: SourceRow


# Called for each row left out by skip_invalid, as it is left out.
OnSkip = Callable[[Skipped], None]


class _DryRun(Exception):
    """Raised inside the unit of work to roll a dry run back, carrying its summary out."""

    def __init__(self, summary: ImportSummary) -> None:
        super().__init__("dry run")
        self.summary = summary


_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``--map FIELD=COLUMN`` options as {field: column}; one column may feed several fields."""
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, column = item.partition("=")
        name, column = name.strip().lower(), column.strip().lower()
        if not sep or not name or not column:
            raise Invalid(
                f"the mapping {item!r} is not FIELD=COLUMN", reason="map-syntax", details={"item": repr(item)}
            )
        if name not in FIELDS and not _CUSTOM_NAME.match(name):  # a custom field's is checked on import
            raise Invalid(
                f"the mapping {item!r}: unknown field {name!r}",
                hint="fields are " + ", ".join(FIELDS),
                reason="map-field",
                details={"item": repr(item), "name": repr(name)},
            )
        if name in mapping:
            raise Invalid(
                f"the field {name!r} is mapped twice", reason="map-twice", details={"name": repr(name)}
            )
        mapping[name] = column
    return mapping


def parse_fields(items: Iterable[str], *, what: str) -> list[str]:
    """Field names (``--require``), checked, in lower case, each once."""
    names: list[str] = []
    for item in items:
        name = item.strip().lower()
        if name not in FIELDS:
            raise Invalid(f"{what}: unknown field {item!r}", hint="fields are " + ", ".join(FIELDS))
        if name not in names:
            names.append(name)
    return names


def parse_columns(items: Iterable[str], *, what: str) -> list[str]:
    """Column names (``--ignore``) as the header check compares them: trimmed, lower case."""
    names: list[str] = []
    for item in items:
        name = item.strip().lower()
        if not name:
            raise Invalid(f"{what}: a column name is empty")
        if name not in names:
            names.append(name)
    return names


def parse_stage_map(items: Iterable[str]) -> dict[str, str]:
    """``--stage-map VALUE=STAGE`` options as {value in lower case: stage}; stages are checked on import."""
    stage_map: dict[str, str] = {}
    for item in items:
        value, sep, stage = item.rpartition("=")
        if not sep or not value.strip() or not stage.strip():
            raise Invalid(
                f"the stage mapping {item!r} is not VALUE=STAGE",
                reason="stage-map-syntax",
                details={"item": repr(item)},
            )
        stage_map[value.strip().lower()] = stage.strip()
    return stage_map


#: The tables an import writes most rows to, whose indexes it may build at its end (opp.store.indexes).
DEFERRED_INDEX_TABLES = ("opportunities", "history")


def derive_handle(name: str) -> str:
    """A handle made from a display name: lower case, accents dropped, other characters as ``-``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    handle = _HANDLE_OTHER.sub("-", ascii_name.lower()).strip("-")[:64].rstrip("-")
    return handle or "user"


def import_deals(
    ctx: Context,
    source: Path | IO[bytes],
    options: ImportOptions | None = None,
    *,
    progress: Progress | None = None,
    on_skip: OnSkip | None = None,
) -> ImportSummary:
    """Import a file (a path, or a binary stream such as stdin) all or nothing; see the module doc.

    With ``skip_invalid`` the problem rows are left out instead (``on_skip`` hears of each) and the
    rest is imported, still in one transaction; the rejects file, when asked for, is written before
    that transaction commits and removed again if the commit fails, so that the file and the
    database always agree. A dry run writes it too: it is what the real run would leave out.
    """
    options = options or ImportOptions()
    name = str(source) if isinstance(source, Path) else "-"
    fmt = format_of(name, options.fmt)
    _check_options(options)
    if options.rejects is not None:
        check_target(options.rejects, force=options.force)  # refused before anything is read
    binary = open_binary(source) if isinstance(source, Path) else source
    total = _size_of(source)
    counter = CountingReader(binary)
    stream = text_stream(counter)
    written: Path | None = None
    try:
        with _collecting_less(), ctx.unit_of_work(options.command) as uow, search.bulk_insert(uow.conn):
            if options.only_into_empty:
                _check_no_deals(uow.conn)
            run = _Import(uow, options, fmt, today=ctx.clock.today(), on_skip=on_skip)
            rows = iter_rows(stream, fmt, name if name != "-" else "standard input", run.header_check())
            done = 0
            # The deals' and events' secondary indexes built once at the end when the import is large
            # beside them; built before finish(), whose statements read them.
            with deferred_indexes(uow.conn, DEFERRED_INDEX_TABLES) as deferred:
                for batch in _batches(rows, options.batch_size):
                    run.batch(batch)
                    deferred.check()
                    done += len(batch)
                    if progress is not None:
                        progress(done, counter.bytes_read / total if total else None)
            run.finish()
            summary = run.summary()
            if options.rejects is not None:
                written = write_rejects(
                    options.rejects,
                    run.rejects_columns(),
                    run.rejected,
                    force=options.force,
                    wording=options.wording,
                )
            if options.dry_run:
                raise _DryRun(summary)
            return summary
    except _DryRun as dry:
        return dry.summary
    except BaseException:
        if written is not None:  # the rows it lists were not left out after all: nothing was imported
            written.unlink(missing_ok=True)
        raise
    finally:
        if isinstance(source, Path):
            stream.close()


def write_rejects(
    target: Path,
    columns: list[tuple[str, str]],
    rejected: list[Skipped],
    *,
    force: bool,
    wording: Callable[[OppError], str] | None = None,
) -> Path:
    """The rows left out, as CSV: the file's own columns (``columns``: each column's key in a row's
    cells and its name as the file wrote it) with each row's cells exactly as read, then ``line`` and
    ``error`` (worded by ``wording``, else the message). A short row is padded with empty cells; a long
    row's extra cells follow ``error``."""
    import csv  # only an import that asks for a rejects file writes CSV

    def worded(error: OppError) -> str:
        return wording(error) if wording is not None else error.message

    width = len(columns)

    def fill(scratch: Path) -> None:
        with scratch.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([name for _, name in columns] + ["line", "error"])
            for skipped in rejected:
                row = skipped.row
                if row.raw is not None:
                    cells = list(row.raw) + [""] * (width - len(row.raw))
                else:
                    cells = [row.cells.get(key, "") for key, _ in columns]
                writer.writerow([*cells[:width], skipped.line, worded(skipped.error), *cells[width:]])

    return write_file(target, fill, force=force)


@contextmanager
def _collecting_less() -> Iterator[None]:
    """Run Python's cycle collector at opp's pace (:mod:`opp.core.collector`, which the command line
    sets already) and leave out of its scans what exists already (modules, the engine), for the length
    of an import: an import keeps a batch's rows alive until the batch is written, which the default
    pace would scan several times over."""
    thresholds = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0  # leave a caller's own frozen objects as they are
    if freeze:
        gc.freeze()
    gc.set_threshold(COLLECTOR_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


def _size_of(source: Path | IO[bytes]) -> int | None:
    try:
        size = source.stat().st_size if isinstance(source, Path) else None
    except OSError:
        return None
    return size or None


def _batches(rows: Iterator[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _check_options(options: ImportOptions) -> None:
    if options.currency is not None:
        normalize_currency(options.currency)
    if options.customer_kind is not None:
        check_kind(options.customer_kind)
    if options.date_order is not None and options.date_order not in ORDERS:
        raise Invalid(f"unknown date order {options.date_order!r}", hint="use mdy, dmy or ymd")
    if options.default_customer is not None:
        try:
            clean_text(options.default_customer, what="default customer", max_length=300, required=True)
        except Invalid as exc:
            exc.reason, exc.details = (
                "default-customer",
                {"problem": exc.message.removeprefix("default customer ")},
            )
            raise


def _check_no_deals(conn: Connection) -> None:
    count = conn.execute(select(func.count()).select_from(o)).scalar_one()
    if count:
        raise Conflict(
            f"the database already holds {count} opportunities; the demo loads only into an empty one",
            hint="use a fresh database",
            reason="demo-needs-empty",
        )


@dataclass(slots=True)
class _Row:
    """A row read and checked, before it meets the database. ``None`` means not given."""

    line: int
    present: Collection[str]  # the fields whose column the row has (empty cells included)
    title: str
    customer: str | None
    customer_kind: str | None
    value: str | None
    value_minor: int | None  # the value in the row's currency, else the default one (a new deal's)
    currency: str | None
    stage: Stage | None
    probability: int | None
    expected_close: date | None
    external_ref: str | None
    assignee: str | None
    description: str | None
    created_at: datetime | None
    closed_at: datetime | None
    lost_reason: str | None
    #: The forecast category set by hand (None: the deal follows its stage's; see categories).
    category: str | None = None
    #: Custom deal fields in the row: their values, None for an empty cell (see _custom_values).
    custom: dict[str, Value | None] = field(default_factory=dict)
    deal_id: int | None = None  # the id column: a deal of this database, or of the one exported from
    customer_email: str | None = None  # for a customer the row creates
    customer_phone: str | None = None
    assignee_name: str | None = None  # for a user the row creates
    closing_checked: bool = False  # _check_closing has passed with the stage a new deal would get
    adjusted: bool = False  # a won or lost row whose probability column said otherwise


class _Import:
    """One import's state: the rules that read a row, the caches, and the counts for the summary."""

    def __init__(
        self, uow: UnitOfWork, options: ImportOptions, fmt: str, *, today: date, on_skip: OnSkip | None = None
    ) -> None:
        self.uow = uow
        self.on_skip = on_skip
        self.options = options
        self.fmt = fmt
        self.today = today
        self.pipeline: Pipeline = load_pipeline(uow.conn)
        self.stage_map = {value: self.pipeline.get(stage) for value, stage in options.stage_map.items()}
        self.default_currency = normalize_currency(options.currency or settings.default_currency(uow.conn))
        self.kind_created = check_kind(options.customer_kind) if options.customer_kind else "organization"
        self.default_customer = clean_text(options.default_customer, what="customer", max_length=300)
        mapping = options.mapping
        # A column feeding both closed_at and expected_close (a CRM's "close date") is the actual close of
        # closed deals and only the expected close of open ones.
        self.close_date_is_shared = "closed_at" in mapping and mapping.get("expected_close") == mapping.get(
            "closed_at"
        )
        self.guarded = fmt == "csv" and options.strip_formula_guard
        self.custom_fields = {found.name: found for found in defined_fields(uow.conn, "deal")}
        for name in mapping:
            if name not in FIELDS and name not in self.custom_fields:
                raise Invalid(
                    f"the mapping {name}={mapping[name]}: unknown field {name!r}",
                    hint="fields are " + ", ".join([*FIELDS, *self.custom_fields]),
                    reason="map-field",
                    details={"item": repr(f"{name}={mapping[name]}"), "name": repr(name)},
                )
        #: Every field a column may feed: opp's, then the custom deal fields (a column named as one).
        self.known = [*FIELDS, *self.custom_fields]
        self.sources = [(name, mapping.get(name, name)) for name in self.known]
        self.ignored = frozenset(options.ignore)
        self.required = tuple(options.require)
        self.columns: list[tuple[str, str]] = []  # (key in a row's cells, name as written), in file order
        self.not_read: list[str] = []  # columns that feed no field and were not ignored, as written
        self.pending_custom: list[dict[str, Value | None]] = []  # the pending deals' custom values
        self.pending_categories: list[str | None] = []  # the pending deals' categories set by hand
        self.stages: dict[str, Stage] = {}  # stage text -> stage, as read so far
        self.dates: dict[str, date] = {}  # date text -> date (files repeat their dates a lot)
        self.customers: dict[tuple[str | None, str], int] = {}
        self.users: dict[str, tuple[int, str]] = {}
        self.refs_seen: dict[str, int] = {}  # create_only: each ref once per file (a small demo file)
        self.pending: list[dict[str, Any]] = []  # deals made by this batch's rows, written by _flush
        self.pending_refs: set[str] = set()
        self.problems: list[str] = []
        self.first_problem: OppError | None = None
        self.more_problems = False
        self.rejected: list[Skipped] = []
        self.made_customers: list[int] = []  # the customers made (their "created" events, _drop_unused)
        self.skipped = self.blank_rows = self.probability_adjusted = 0
        self.created = self.updated = self.unchanged = 0
        self.customers_created = self.users_created = 0
        self.new_users: list[str] = []

    # -- reading -------------------------------------------------------------------------------------

    def header_check(self) -> HeaderCheck:
        mapping = self.options.mapping
        strict = not mapping  # a file from elsewhere has columns opp has no place for: they are ignored
        complete = self.fmt == "csv"  # a CSV header names every column; JSON objects name their own

        def check(header: list[str]) -> list[str]:
            columns = [name.strip().lower() for name in header]
            # An ignored column is read under a key no field has (each its own: it may appear twice).
            columns = [
                f"{_IGNORED}{len(self.columns) + index}" if name in self.ignored else name
                for index, name in enumerate(columns)
            ]
            self.columns.extend(zip(columns, header, strict=True))
            if not strict:
                read = set(mapping.values()) | {name for name in self.known if name not in mapping}
                self.not_read.extend(
                    written
                    for name, written in zip(columns, header, strict=True)
                    if name not in read and not name.startswith(_IGNORED)
                )
            repeated = [name for name in columns if columns.count(name) > 1]
            if repeated:
                raise Invalid(f"line 1: column {repeated[0]!r} appears twice")
            if strict:
                unknown = [
                    name for name in columns if name not in self.known and not name.startswith(_IGNORED)
                ]
                if unknown:
                    raise Invalid(
                        f"line 1: unknown column {unknown[0]!r}",
                        hint="columns are "
                        + ", ".join(self.known)
                        + "; map other columns to them, or add a custom field",
                        reason="unknown-column",
                        details={"fields": ", ".join(self.known)},
                    )
            if complete:
                for name, column in mapping.items():
                    if column in self.ignored:
                        raise Invalid(
                            f"line 1: the column {column!r} is to be ignored, yet {name} is read from it"
                        )
                    if column not in columns:
                        raise Invalid(
                            f"line 1: the file has no column {column!r} to map to {name}",
                            reason="map-missing-column",
                            details={"name": name, "column": repr(column)},
                        )
                sources = {name: mapping.get(name, name) for name in self.known}
                for name in self.required:
                    if sources[name] not in columns:
                        raise Invalid(
                            f"line 1: {name} is required of every row, but the file has no column for it"
                        )
                if sources["title"] not in columns:
                    raise Invalid(
                        "line 1: the column 'title' is required",
                        hint="or map one to it",
                        reason="title-column",
                    )
                if sources["customer"] not in columns and self.default_customer is None:
                    raise Invalid(
                        "line 1: the column 'customer' is required",
                        hint="map one to it, or give a default customer",
                        reason="customer-column",
                    )
            return columns

        return check

    def _cells(self, row: SourceRow) -> Mapping[str, str]:
        """The row's text by field (only the fields whose column is there)."""
        found = row.cells  # without a mapping the header check lets only the fields' own columns in
        if self.options.mapping:
            found = {name: found[column] for name, column in self.sources if column in found}
        if self.guarded and "'" in "".join(found.values()):  # one scan finds the rare row to look at
            found = {name: strip_formula_guard(text) for name, text in found.items()}
        return found

    def rejects_columns(self) -> list[tuple[str, str]]:
        """The columns of the rejects file: the file's own, as written (JSON keys as they first came)."""
        return self.columns

    def read(self, row: SourceRow) -> _Row:
        """Check one row on its own (no database writes): every rule that needs only the row."""
        if row.error is not None:
            raise Invalid(row.error)
        cells = self._cells(row)

        def cell(name: str) -> str | None:
            return cells.get(name, "").strip() or None

        for name in self.required:
            if cell(name) is None:
                raise Invalid(f"{name} is empty, and this import requires it")

        title = clean_title(cells.get("title"))
        customer = clean_text(cells.get("customer"), what="customer name", max_length=300)
        if (
            customer is None
            and self.default_customer is None
            and ("customer" in cells or self.options.create_only)
        ):
            raise Invalid(
                "customer is required",
                hint="fill it in, or give a default customer",
                reason="customer-required",
            )
        kind_text = cell("customer_kind")
        currency_text = cell("currency")
        currency = normalize_currency(currency_text) if currency_text else None
        value = cell("value")
        value_minor = parse_minor(value, currency or self.default_currency) if value is not None else None
        stage = self._stage(cell("stage"))
        probability_text = cell("probability")
        probability = parse_probability(probability_text) if probability_text else None
        adjusted = False
        if (
            stage is not None
            and probability is not None
            and not stage.is_open
            and not self.options.create_only
        ):
            adjusted = probability != stage.probability  # a closed stage's is fixed: won 100, lost 0
            probability = None
        elif stage is not None and probability is not None:
            plan_move(self.pipeline, stage, stage, probability=probability)
        id_text = cell("id") if "id" in cells else None
        expected_close = self._date(cell("expected_close"), "expected_close")
        created_at = self._instant(cell("created_at"), "created_at")
        # A shared close date may be an open deal's (future) expected close: checked in _check_closing.
        closed_at = self._instant(cell("closed_at"), "closed_at", past=not self.close_date_is_shared)
        lost_reason = clean_reason(cells.get("lost_reason"))
        category_text = cell("category")
        parsed = _Row(
            line=row.line,
            present=cells.keys(),
            title=title,
            customer=customer,
            customer_kind=check_kind(kind_text) if kind_text else None,
            value=value,
            value_minor=value_minor,
            currency=currency,
            stage=stage,
            probability=probability,
            expected_close=expected_close,
            external_ref=clean_ref(cells.get("external_ref")),
            assignee=cell("assignee"),
            description=clean_description(cells.get("description")),
            created_at=created_at,
            closed_at=closed_at,
            lost_reason=lost_reason,
            category=parse_category(category_text, auto=True) if category_text else None,
            custom=self._custom_values(cells) if self.custom_fields else {},
            deal_id=parse_id(id_text) if id_text is not None else None,
            # The columns of customers and users a row may create: rare, so not looked for when absent.
            customer_email=clean_email(cell("customer_email")) if "customer_email" in cells else None,
            customer_phone=(
                clean_text(cell("customer_phone"), what="phone", max_length=64)
                if "customer_phone" in cells
                else None
            ),
            assignee_name=(
                clean_text(cell("assignee_name"), what="assignee name", max_length=200)
                if "assignee_name" in cells
                else None
            ),
            adjusted=adjusted,
        )
        if stage is not None or parsed.external_ref is None or self.options.create_only:
            self._check_closing(parsed, stage or self.pipeline.open_stages[0])
            parsed.closing_checked = True
        if self.options.create_only and parsed.assignee is not None:
            parse_handle(handle_key(parsed.assignee))  # the demo's assignees are handles
        return parsed

    def _custom_values(self, cells: Mapping[str, str]) -> dict[str, Value | None]:
        """The row's cells of custom deal fields, checked by type (an empty cell: None)."""
        if not self.custom_fields:
            return {}
        return {
            name: parse_value(found, cells[name], self.today) if cells[name].strip() else None
            for name, found in self.custom_fields.items()
            if name in cells
        }

    def _check_closing(self, row: _Row, stage: Stage) -> None:
        """closed_at only on closed deals (unless it is the shared close date), lost_reason on lost ones."""
        if row.closed_at is not None and stage.is_open:
            if self.close_date_is_shared:
                row.closed_at = None
            else:
                raise Invalid(f"closed_at is given but {stage.key} is an open stage")
        if row.closed_at is not None:
            if row.closed_at > self.uow.at:
                closed = format_date(row.closed_at.date())
                raise Invalid(
                    f"closed_at {closed} is in the future", hint=f"today is {format_date(self.today)}"
                )
            if row.created_at is not None and row.closed_at < row.created_at:
                closed, created = format_date(row.closed_at.date()), format_date(row.created_at.date())
                raise Invalid(f"closed_at {closed} is before created_at {created}")
        if row.lost_reason is not None and stage.kind != "lost":
            raise Invalid(f"lost_reason is given but the stage is {stage.key}, not closed-lost")

    def _stage(self, text: str | None) -> Stage | None:
        if text is None:
            return None
        known = self.stages.get(text)
        if known is None:
            mapped = self.stage_map.get(text.lower())
            known = self.stages[text] = mapped if mapped is not None else self.pipeline.get(text)
        return known

    def _date(self, text: str | None, column: str) -> date | None:
        if text is None:
            return None
        known = self.dates.get(text)
        if known is not None:
            return known
        try:
            day = parse_date(text, self.today, self.options.date_order)
        except Invalid as exc:
            exc.message = f"{column}: {exc.message}"
            if exc.message.startswith(f"{column}: ambiguous date"):
                exc.hint, exc.reason = "say in which order to read it, or write YYYY-MM-DD", "ambiguous-date"
            raise
        if len(self.dates) >= _CACHE_LIMIT:
            self.dates.clear()
        self.dates[text] = day
        return day

    def _instant(self, text: str | None, column: str, *, past: bool = True) -> datetime | None:
        """A past date or instant from the file, as stored: naive UTC (a date is its midnight)."""
        if text is None:
            return None
        if "t" in text.lower() or ":" in text:
            try:
                instant = parse_instant(text).replace(tzinfo=None)
            except Invalid as exc:
                exc.message = f"{column}: {exc.message}"
                raise
        else:
            day = self._date(text, column)
            assert day is not None
            instant = datetime(day.year, day.month, day.day)
        if past and instant > self.uow.at:
            raise Invalid(f"{column} {text!r} is in the future", hint=f"today is {format_date(self.today)}")
        return instant

    # -- writing -------------------------------------------------------------------------------------

    def batch(self, rows: list[SourceRow]) -> None:
        """Check and write a batch's rows in order; after a bad row, later rows are only checked.

        Every row is read first (reading needs no database), so that the batch's refs and customers
        are looked up together; then the rows are applied in order.
        """
        parsed: list[_Row | OppError | None] = []
        for row in rows:
            if row.blank:
                self.blank_rows += 1
                parsed.append(None)
                continue
            try:
                parsed.append(self.read(row))
            except OppError as exc:
                parsed.append(exc)
        good = [row for row in parsed if isinstance(row, _Row)]
        existing = self._prefetch(good)
        by_id = self._prefetch_ids(good)
        if not self.problems:
            self._find_customers(good, existing, by_id)
        for row, result in zip(rows, parsed, strict=True):
            if result is None:
                continue
            if len(self.problems) >= MAX_PROBLEMS:
                self.more_problems = True
                return
            try:
                if isinstance(result, OppError):
                    raise result
                if not self.problems:
                    self.apply(result, existing, by_id)
                    self.probability_adjusted += result.adjusted
            except OppError as exc:
                self._problem(row, exc)
        if not self.problems:
            self._flush()

    def _flush(self) -> None:
        """Write the deals made so far, in the order of their rows."""
        if self.pending:
            ids = insert_deals(self.uow, self.pending)
            self._write_custom(ids, self.pending_custom)
            self._write_categories(ids, self.pending_categories)
            self.pending = []
            self.pending_custom = []
            self.pending_categories = []
            self.pending_refs.clear()

    def _write_custom(self, ids: list[int], values: list[dict[str, Value | None]]) -> None:
        """The custom field values of new deals (one executemany), each an ``import`` event."""
        rows, events = [], []
        for deal_id, given in zip(ids, values, strict=True):
            for name, value in given.items():
                if value is not None:
                    rows.append(value.row(self.custom_fields[name].id, deal_id))
                    events.append(self.uow.event(deal_id, "import", field=name, new=value.text))
        if rows:
            insert_rows(self.uow.conn, schema.field_values, rows)
            self.uow.record_many(events)

    def _write_categories(self, ids: list[int], categories: list[str | None]) -> None:
        """The categories set by hand of new deals (one executemany), each an ``import`` event."""
        given = [(deal_id, chosen) for deal_id, chosen in zip(ids, categories, strict=True) if chosen]
        if not given:
            return
        self.uow.conn.execute(
            update(o).where(o.c.id == bindparam("deal_id")).values(category=bindparam("chosen")),
            [{"deal_id": deal_id, "chosen": chosen} for deal_id, chosen in given],
        )
        self.uow.record_many(
            [self.uow.event(deal_id, "import", field="category", new=chosen) for deal_id, chosen in given]
        )

    def _problem(self, row: SourceRow, exc: OppError) -> None:
        if self.options.skip_invalid and not self.options.create_only:
            skipped = Skipped(row.line, exc, row)
            self.skipped += 1
            if self.options.rejects is not None:
                self.rejected.append(skipped)
            if self.on_skip is not None:
                self.on_skip(skipped)
            return
        exc.message = f"line {row.line}: {exc.message}"
        if self.options.create_only:
            raise exc  # the demo stops at the first bad row, with the error as it is
        if not self.problems:
            self.first_problem = exc
        self.problems.append(exc.message)

    def finish(self) -> None:
        if self.problems:
            raise ImportRejected(self.problems, more=self.more_problems, first=self.first_problem)
        if self.skipped:
            self._drop_unused()
        self._record_made_customers()

    def _record_made_customers(self) -> None:
        """A ``created`` event in each new customer's history, under this command, as ``customer add``
        writes: ``opp undo`` of the import removes the customers it made along with its deals."""
        conn, uow = self.uow.conn, self.uow
        made = self.made_customers
        for start in range(0, len(made), _LOOKUP_CHUNK):
            chunk = made[start : start + _LOOKUP_CHUNK]
            created = select(
                cu.c.id,
                literal(uow.command_id()),
                literal(uow.at, DateTime),
                literal(uow.actor),
                literal("created"),
                cu.c.name,
            ).where(cu.c.id.in_(chunk))
            columns = ["customer_id", "command_id", "at", "actor", "action", "new"]
            conn.execute(insert(schema.customer_history).from_select(columns, created))

    def _drop_unused(self) -> None:
        """Remove the customers this import made for rows that were then skipped (a row is checked
        against its deal only after its batch's customers are found or made): a skipped row leaves
        nothing behind. Such customers have no deal, contact or ticket yet: none could name them."""
        made = self.made_customers
        for start in range(0, len(made), _LOOKUP_CHUNK):
            chunk = made[start : start + _LOOKUP_CHUNK]
            used = select(o.c.id).where(o.c.customer_id == cu.c.id).exists()
            result = self.uow.conn.execute(delete(cu).where(cu.c.id.in_(chunk), ~used))
            self.customers_created -= result.rowcount

    def summary(self) -> ImportSummary:
        return ImportSummary(
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            customers_created=self.customers_created,
            users_created=self.users_created,
            skipped=self.skipped,
            blank_rows=self.blank_rows,
            probability_adjusted=self.probability_adjusted,
            dry_run=self.options.dry_run,
            new_users=self.new_users,
            columns_not_read=self.not_read,
        )

    def _prefetch(self, rows: list[_Row]) -> dict[str, RowMapping | None]:
        """The deals a batch's refs name, in one query; None marks a ref that is not there (yet)."""
        refs = list({row.external_ref for row in rows if row.external_ref is not None})
        if not refs:
            return {}
        found: dict[str, RowMapping | None] = dict.fromkeys(refs)
        for start in range(0, len(refs), _LOOKUP_CHUNK):
            chunk = refs[start : start + _LOOKUP_CHUNK]
            for deal in self.uow.conn.execute(_DEALS_BY_REF, {"refs": chunk}).mappings():
                found[deal["external_ref"]] = deal
        return found

    def _prefetch_ids(self, rows: list[_Row]) -> dict[int, RowMapping | None]:
        """The deals a batch's ids name (rows without a ref only), in one query; None: no such deal."""
        if self.options.create_only:
            return {}
        ids = list({row.deal_id for row in rows if row.deal_id is not None and row.external_ref is None})
        found: dict[int, RowMapping | None] = dict.fromkeys(ids)
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            for deal in self.uow.conn.execute(
                _DEALS_BY_ID, {"ids": ids[start : start + _LOOKUP_CHUNK]}
            ).mappings():
                found[deal["id"]] = deal
        return found

    def apply(
        self, row: _Row, existing: dict[str, RowMapping | None], by_id: dict[int, RowMapping | None]
    ) -> None:
        ref = row.external_ref
        if ref is None:
            deal_id = row.deal_id
            if deal_id is None or self.options.create_only:
                self._create(row)
                return
            if deal_id in by_id:
                deal = by_id.pop(deal_id)  # used once: a later row with the id sees this one's write
            else:
                self._flush()
                deal = self.uow.conn.execute(select(o).where(o.c.id == deal_id)).mappings().first()
            if deal is None:  # an id from another database: a new deal, with an id of this one
                self._create(row)
            else:
                self._flush()
                self._update(row, deal)
            return
        if self.options.create_only:  # each ref once per file, so the batch's look-up holds
            holder = existing.get(ref)
            self._create(row, taken_by=holder["id"] if holder is not None else None)
            return
        if ref in existing:
            deal = existing.pop(ref)  # used once: a later row with the ref sees this one's write
        else:
            if ref in self.pending_refs:
                self._flush()
            deal = self.uow.conn.execute(select(o).where(o.c.external_ref == ref)).mappings().first()
        if deal is None:
            self._create(row)
        else:
            self._flush()  # the update's events come after the created events of the rows before it
            self._update(row, deal)

    def _create(self, row: _Row, *, taken_by: int | None = None) -> None:
        if row.external_ref is not None and self.options.create_only:
            if row.external_ref in self.refs_seen:
                raise Invalid(
                    f"external ref {row.external_ref!r} is also on line {self.refs_seen[row.external_ref]}"
                )
            self.refs_seen[row.external_ref] = row.line
        if row.customer is None and self.default_customer is None:
            raise Invalid(
                "customer is required",
                hint="fill it in, or give a default customer",
                reason="customer-required",
            )
        stage = row.stage or self.pipeline.open_stages[0]
        if not row.closing_checked:
            self._check_closing(row, stage)
        currency = row.currency or self.default_currency
        created_at = row.created_at
        if created_at is None and row.closed_at is not None:
            created_at = row.closed_at  # a deal cannot close before it was created
        assignee = self._user(row.assignee, row.assignee_name) if row.assignee else None
        customer_id = self._customer_id(row.customer_kind, row.customer or self.default_customer or "", row)
        if taken_by is not None:
            assert row.external_ref is not None
            raise ref_taken(row.external_ref, taken_by)
        deal = new_deal(
            self.uow.at,
            title=row.title,
            description=row.description,
            customer_id=customer_id,
            value_minor=row.value_minor or 0,
            currency=currency,
            stage=stage,
            probability=stage.probability if row.probability is None else row.probability,
            expected_close=row.expected_close,
            external_ref=row.external_ref,
            assignee_id=assignee[0] if assignee else None,
            created_at=created_at,
            closed_at=row.closed_at,
            lost_reason=row.lost_reason,
        )
        self.pending.append(deal)
        self.pending_custom.append(row.custom)
        self.pending_categories.append(row.category)
        if row.external_ref is not None:
            self.pending_refs.add(row.external_ref)
        self.created += 1

    def _update(self, row: _Row, deal: RowMapping) -> None:
        """Make the deal match the row, field by field, for the columns the file has."""
        present = row.present
        code = row.currency or deal["currency"]
        value_minor = parse_minor(row.value, code) if "value" in present and row.value else 0
        stage = row.stage or self.pipeline.get(deal["stage"])
        self._check_closing(row, stage)
        if row.probability is not None and not stage.is_open:  # the deal's stage is closed
            row.adjusted = row.probability != stage.probability
            row.probability = None
        # Every check passed: what the row names (its customer, its assignee) may now be made.
        change = DealChange(self.uow, deal)
        if "title" in present:
            change.set("title", row.title)
        if row.customer is not None:
            change.set("customer_id", self._customer_id(row.customer_kind, row.customer, row))
        change.currency(code)
        if "value" in present:
            change.value(value_minor)
        else:
            change.value()  # the value it has, in the row's currency
        change.stage(
            stage,
            probability=row.probability,
            closed_at=row.closed_at,
            lost_reason=row.lost_reason if "lost_reason" in present else KEEP,
        )
        if "expected_close" in present:
            change.set("expected_close", row.expected_close)
        if "description" in present:
            change.set("description", row.description)
        if "category" in present:
            change.set("category", row.category)
        if "assignee" in present:
            assignee = self._user(row.assignee, row.assignee_name) if row.assignee else None
            change.assign(*(assignee or (None, None)))
        for custom in apply_values(self.uow.conn, self.custom_fields, deal["id"], row.custom):
            change.changes.append(FieldChange(custom.field, custom.old, custom.new))
        if change.write(action="import"):
            self.updated += 1
        else:
            self.unchanged += 1

    def _find_customers(
        self, rows: list[_Row], existing: dict[str, RowMapping | None], by_id: dict[int, RowMapping | None]
    ) -> None:
        """Find (or create) the customers a batch's rows will use, with a query per 900 names and one
        insert, into the cache :meth:`_customer_id` takes them from.

        The rules, and the order in which customers are created, are those of :meth:`_customer_id`
        taking the rows one by one: a row names its customer, or a new deal gets the default one.
        """
        wanted: dict[tuple[str | None, str], _Row] = {}  # each customer, and the first row naming it
        if self.default_customer is None:
            for row in rows:
                if row.customer is not None:
                    wanted.setdefault((row.customer_kind, row.customer), row)
        else:
            refs_made: set[str] = set()
            for row in rows:
                ref, name = row.external_ref, row.customer
                if name is None:
                    creates = (
                        (ref is None and (row.deal_id is None or by_id.get(row.deal_id) is None))
                        or self.options.create_only
                        or (ref is not None and existing.get(ref) is None and ref not in refs_made)
                    )
                    name = self.default_customer if creates else None
                if ref is not None:
                    refs_made.add(ref)
                if name is not None:
                    wanted.setdefault((row.customer_kind, name), row)
        cache = self.customers
        missing = []
        for key in wanted:
            known_id = cache.pop(key, None)
            if known_id is None:
                missing.append(key)
            else:
                cache[key] = known_id  # now the most recently used
        if missing:
            self._resolve_customers(missing, wanted)
        for key in list(islice(cache, max(0, len(cache) - _CUSTOMER_CACHE))):
            del cache[key]

    def _resolve_customers(
        self, keys: list[tuple[str | None, str]], rows: Mapping[tuple[str | None, str], _Row]
    ) -> None:
        """The ids of these (kind, name) keys, into the cache: found by name, or created, in order."""
        conn = self.uow.conn
        known: dict[str, list[tuple[int, str]]] = {}  # name -> (id, kind) in id order
        names = list({name for _, name in keys})
        for start in range(0, len(names), _LOOKUP_CHUNK):
            chunk = names[start : start + _LOOKUP_CHUNK]
            for customer in conn.execute(_CUSTOMERS_BY_NAME, {"names": chunk}):
                known.setdefault(customer.name, []).append((customer.id, customer.kind))
        made: list[tuple[str, str, _Row]] = []  # (kind, name, first row) of each customer to create
        chosen: list[int] = []  # per key: its id, or -n for the n-th customer made
        for kind, name in keys:
            matches = known.get(name)
            match = None
            if matches is not None:
                if kind is None and len(matches) == 1:
                    match = matches[0]
                else:  # the kind the row says; else of two or more, the kind imports create
                    wanted_kind = kind or self.kind_created
                    for entry in matches if kind is not None else matches[:2]:
                        if entry[1] == wanted_kind:
                            match = entry
                            break
            if match is None:
                match = (-len(made) - 1, kind or self.kind_created)
                made.append((match[1], name, rows[(kind, name)]))
                known.setdefault(name, []).append(match)
            chosen.append(match[0])
        ids = insert_returning_ids(
            conn,
            cu,
            [
                customer_row(kind, name, email=row.customer_email, phone=row.customer_phone, at=self.uow.at)
                for kind, name, row in made
            ],
        )
        self.customers_created += len(made)
        self.made_customers.extend(ids)
        cache = self.customers
        for key, found in zip(keys, chosen, strict=True):
            cache[key] = found if found > 0 else ids[-found - 1]

    def _customer_id(self, kind: str | None, name: str, row: _Row) -> int:
        """The customer of this name (and kind, if the row says), created when there is none (with the
        row's email and phone; a customer that is there is left as it is)."""
        key = (kind, name)
        found = self.customers.get(key)
        if found is not None:
            return found
        conn = self.uow.conn
        if kind is not None:
            found = conn.execute(select(cu.c.id).where(cu.c.kind == kind, cu.c.name == name)).scalar()
        else:
            matches = conn.execute(
                select(cu.c.id, cu.c.kind).where(cu.c.name == name).order_by(cu.c.id).limit(2)
            ).all()
            if len(matches) == 1:
                found = matches[0].id
            else:  # none, or an organization and an individual: the kind imports create wins
                found = next((match.id for match in matches if match.kind == self.kind_created), None)
        if found is None:
            found = insert_customer(
                conn,
                kind or self.kind_created,
                name,
                email=row.customer_email,
                phone=row.customer_phone,
                at=self.uow.at,
            )
            self.customers_created += 1
            self.made_customers.append(found)
        self.customers[key] = found  # _find_customers keeps the cache within its limit
        return found

    def _user(self, text: str, name: str | None = None) -> tuple[int, str]:
        """(id, handle) of the user a cell names: a handle (any case, as everywhere in opp), else a
        user's name; created when unknown (named ``name`` when the row gives one)."""
        cached = self.users.get(text)
        if cached is not None:
            return cached
        conn = self.uow.conn
        handles = {text, handle_key(text)}  # handles are lower case: "Priya" names priya
        row = conn.execute(select(us.c.id, us.c.handle).where(us.c.handle.in_(handles))).first()
        if row is None and not self.options.create_only:
            row = conn.execute(
                select(us.c.id, us.c.handle).where(func.lower(us.c.name) == text.lower()).order_by(us.c.id)
            ).first()
        found = (row.id, row.handle) if row is not None else self._new_user(text, name)
        if len(self.users) >= _CACHE_LIMIT:
            self.users.clear()
        self.users[text] = found
        return found

    def _new_user(self, text: str, given_name: str | None) -> tuple[int, str]:
        """A new user: ``text`` as its handle when it is one (any case), else a handle derived from it
        as from a display name; its name is ``given_name``, else ``text`` when that is not the handle."""
        name: str | None
        if self.options.create_only:
            handle, name = parse_handle(handle_key(text)), None
        else:
            try:
                base = parse_handle(handle_key(text))
            except Invalid:
                base = derive_handle(text)
            handle, number = base, 1
            while self.uow.conn.execute(select(us.c.id).where(us.c.handle == handle)).first() is not None:
                number += 1
                handle = f"{base[:60]}-{number}"
            name = given_name
            if name is None:
                name = clean_text(text, what="assignee name", max_length=200)
                if name == handle:
                    name = None
        result = self.uow.conn.execute(
            insert(us).values(handle=handle, name=name, email=None, created_at=self.uow.at)
        )
        new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
        self.users_created += 1
        self.new_users.append(handle)
        return new_id, handle


def summary_message(summary: ImportSummary) -> str:
    """One line for people: what was (or would be) done, the users that were created, and the rows
    skipped, passed over as blank, or whose probability followed their won or lost stage."""
    verb = "would import" if summary.dry_run else "imported"
    text = (
        f"{verb} {count_of(summary.created + summary.updated + summary.unchanged, 'row')}: "
        f"{summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged; "
        f"{count_of(summary.customers_created, 'new customer')}, "
        f"{count_of(summary.users_created, 'new user')}"
    )
    if summary.new_users:
        shown = summary.new_users[:10]
        text += " (" + ", ".join(shown) + (", …" if len(summary.new_users) > 10 else "") + ")"
    extras = []
    if summary.skipped:
        extras.append(f"{count_of(summary.skipped, 'problem row')} skipped")
    if summary.blank_rows:
        extras.append(f"{count_of(summary.blank_rows, 'blank row')} passed over")
    if summary.probability_adjusted:
        extras.append(
            f"{count_of(summary.probability_adjusted, 'won or lost row')} given probability 100 or 0"
        )
    if extras:
        text += "; " + ", ".join(extras)
    return text
