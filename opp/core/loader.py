"""Loading deals from a CSV file in one unit of work: the demo data, and files shaped like it.

The file has the import columns (``title, customer, customer_kind, value, currency, stage, probability,
expected_close, external_ref, assignee, description``) and optionally ``created_at``, ``closed_at`` and
``lost_reason``, which carry a deal's past over. Missing customers and users are created. Every deal is
inserted by :func:`opp.core.deals.insert_deal`, as ``opp create`` does, so its ``created`` history event
is the same. The whole file loads or nothing does; an error names the line where its row starts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, func, insert, select

from opp.core import settings
from opp.core.context import Context, UnitOfWork
from opp.core.customers import check_kind, insert_customer
from opp.core.dates import format_date, parse_date, parse_instant
from opp.core.deals import insert_deal
from opp.core.errors import Conflict, Invalid, OppError
from opp.core.money import normalize_currency, parse_amount, parse_probability, to_minor
from opp.core.rates import Rate
from opp.core.records import Record
from opp.core.refs import clean_text, parse_handle
from opp.core.stages import Pipeline, load_pipeline, plan_move
from opp.core.users import user_id
from opp.store import schema

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
)
REQUIRED_COLUMNS = ("title", "customer")
RATE_COLUMNS = ("from", "to", "rate", "date")


@dataclass(frozen=True)
class LoadSummary(Record):
    """What a load added."""

    created: int
    customers_created: int
    users_created: int


@dataclass(frozen=True)
class _Row:
    line: int
    cells: Mapping[str, str]


def load_deals_csv(ctx: Context, path: str | Path, *, only_into_empty: bool = False) -> LoadSummary:
    """Create a deal for every row of the CSV file at ``path``, all in one transaction.

    ``only_into_empty`` refuses (Conflict) a database that already holds deals, so sample data never
    mixes with real data and loading it twice is refused rather than doubling every deal.
    """
    rows = _read_rows(Path(path))
    with ctx.unit_of_work("demo") as uow:
        if only_into_empty:
            _check_no_deals(uow.conn)
        loader = _Loader(uow, today=ctx.clock.today())
        for row in rows:
            try:
                loader.add(row)
            except OppError as exc:
                exc.message = f"line {row.line}: {exc.message}"
                raise
        return LoadSummary(
            created=loader.created,
            customers_created=loader.customers_created,
            users_created=loader.users_created,
        )


def _check_no_deals(conn: Connection) -> None:
    count = conn.execute(select(func.count()).select_from(schema.opportunities)).scalar_one()
    if count:
        raise Conflict(
            f"the database already holds {count} opportunities; the demo loads only into an empty one",
            hint="use a fresh database, e.g. opp --db demo.db demo",
        )


def _read_rows(
    path: Path, allowed: tuple[str, ...] = COLUMNS, required: tuple[str, ...] = REQUIRED_COLUMNS
) -> list[_Row]:
    """The file's data rows, each with the line it starts on (a quoted cell may span lines)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise Invalid(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise Invalid(f"{path} is not UTF-8 text", hint="save the CSV as UTF-8") from None
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise Invalid(f"{path} is empty", hint="the first line names the columns: " + ",".join(allowed))
        columns = _columns(header, allowed, required)
        rows: list[_Row] = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                raise Invalid(
                    f"line {line}: {len(cells)} fields, but the header names {len(columns)} columns"
                )
            rows.append(_Row(line, dict(zip(columns, cells, strict=True))))
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num}: malformed CSV: {exc}") from None
    return rows


def _columns(header: list[str], allowed: tuple[str, ...], required: tuple[str, ...]) -> list[str]:
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


class _Loader:
    """Turns rows into deals inside one unit of work, creating customers and users once each."""

    def __init__(self, uow: UnitOfWork, *, today: date) -> None:
        self.uow = uow
        self.today = today
        self.pipeline: Pipeline = load_pipeline(uow.conn)
        self.default_currency = settings.default_currency(uow.conn)
        self.customers: dict[tuple[str, str], int] = {}
        self.users: dict[str, int] = {}
        self.refs: dict[str, int] = {}
        self.created = 0
        self.customers_created = 0
        self.users_created = 0

    def add(self, row: _Row) -> None:
        cells = row.cells

        def cell(name: str) -> str | None:
            return cells.get(name, "").strip() or None

        title = clean_text(cells.get("title"), what="title", max_length=500, required=True)
        assert title is not None
        description = clean_text(cells.get("description"), what="description", max_length=100_000)
        external_ref = clean_text(cells.get("external_ref"), what="external ref", max_length=200)
        lost_reason = clean_text(cells.get("lost_reason"), what="lost reason", max_length=2000)
        currency = normalize_currency(cell("currency") or self.default_currency)
        value = cell("value")
        value_minor = to_minor(parse_amount(value, currency), currency) if value else 0
        stage_text = cell("stage")
        stage = self.pipeline.get(stage_text) if stage_text else self.pipeline.open_stages[0]
        probability_text = cell("probability")
        chance = parse_probability(probability_text) if probability_text else None
        plan_move(self.pipeline, stage, stage, probability=chance)  # a closed stage's probability is fixed
        close_text = cell("expected_close")
        expected_close = parse_date(close_text, self.today) if close_text else None
        created_at = self._instant(cell("created_at"), "created_at")
        closed_at = self._instant(cell("closed_at"), "closed_at")
        if closed_at is not None and stage.is_open:
            raise Invalid(f"closed_at is given but {stage.key} is an open stage")
        if lost_reason is not None and stage.kind != "lost":
            raise Invalid(f"lost_reason is given but the stage is {stage.key}, not closed-lost")
        if created_at is not None and closed_at is not None and closed_at < created_at:
            closed, created = format_date(closed_at.date()), format_date(created_at.date())
            raise Invalid(f"closed_at {closed} is before created_at {created}")
        if external_ref is not None:
            if external_ref in self.refs:
                raise Invalid(f"external ref {external_ref!r} is also on line {self.refs[external_ref]}")
            self.refs[external_ref] = row.line
        if created_at is None and closed_at is not None:
            created_at = closed_at  # a deal cannot close before it was created
        assignee = cell("assignee")
        insert_deal(
            self.uow,
            title=title,
            description=description,
            customer_id=self._customer_id(cell("customer_kind"), cells.get("customer")),
            value_minor=value_minor,
            currency=currency,
            stage=stage,
            probability=stage.probability if chance is None else chance,
            expected_close=expected_close,
            external_ref=external_ref,
            assignee_id=self._user_id(assignee) if assignee else None,
            assignee=parse_handle(assignee) if assignee else None,
            created_at=created_at,
            closed_at=closed_at,
            lost_reason=lost_reason,
        )
        self.created += 1

    def _instant(self, text: str | None, column: str) -> datetime | None:
        """A past date or instant from the file, as stored: naive UTC."""
        if text is None:
            return None
        try:
            instant = parse_instant(text).replace(tzinfo=None)
        except Invalid as exc:
            exc.message = f"{column}: {exc.message}"
            raise
        if instant > self.uow.at:
            raise Invalid(f"{column} {text!r} is in the future", hint=f"today is {format_date(self.today)}")
        return instant

    def _customer_id(self, kind_text: str | None, name_text: str | None) -> int:
        """The customer of this kind and exact name, created when there is none (organization by default)."""
        kind = check_kind(kind_text) if kind_text else "organization"
        name = clean_text(name_text, what="customer name", max_length=300, required=True)
        assert name is not None
        key = (kind, name)
        if key not in self.customers:
            c = schema.customers
            found = self.uow.conn.execute(select(c.c.id).where(c.c.kind == kind, c.c.name == name)).scalar()
            if found is None:
                found = insert_customer(self.uow.conn, kind, name, email=None, phone=None, at=self.uow.at)
                self.customers_created += 1
            self.customers[key] = found
        return self.customers[key]

    def _user_id(self, text: str) -> int:
        """The user with this handle, created (with the handle alone) when there is none."""
        handle = parse_handle(text)
        if handle not in self.users:
            found = user_id(self.uow.conn, handle, required=False)
            if found is None:
                found = _insert_user(self.uow, handle)
                self.users_created += 1
            self.users[handle] = found
        return self.users[handle]


def _insert_user(uow: UnitOfWork, handle: str) -> int:
    """Insert a user known only by handle, as ``opp user add HANDLE`` would."""
    result = uow.conn.execute(
        insert(schema.users).values(handle=handle, name=None, email=None, created_at=uow.at)
    )
    new_id: int = result.inserted_primary_key[0]  # type: ignore[index]
    return new_id


def load_rates_csv(ctx: Context, path: str | Path) -> list[Rate]:
    """Set every exchange rate of a CSV file with the columns ``from,to,rate,date``."""
    from opp.core.rates import set_rate

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
