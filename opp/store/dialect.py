"""The SQL that differs between SQLite and PostgreSQL, in one place (but the text index behind
``--search``, which has a module of its own: opp.store.search)."""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from itertools import chain
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    Integer,
    Numeric,
    String,
    Table,
    case,
    cast,
    func,
    insert,
    literal,
    select,
)

# Exact enough for any amount opp stores (at most 16 digits) times any rate (at most 20 digits).
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


def convert_minor_value(minor: int | None, rate: str | None, inverse: str | None, shift: int) -> int | None:
    """``minor`` × rate × 10^shift rounded half up to a whole minor unit (the inverse of ``inverse``
    when no direct rate is given); None when there is no rate at all.

    This is SQLite's ``opp_convert`` function; PostgreSQL evaluates the same with ``numeric``.
    """
    if minor is None:
        return None
    if rate is None:
        return None if inverse is None else _divided_half_up(minor, Decimal(1).scaleb(shift), inverse)
    exact = _CONTEXT.multiply(_CONTEXT.multiply(Decimal(minor), Decimal(rate)), Decimal(1).scaleb(shift))
    return int(_CONTEXT.quantize(exact, Decimal(1)))


def _divided_half_up(minor: int, scale: Decimal, inverse: str) -> int:
    """``minor`` × scale / inverse rounded half up, in exact rational arithmetic.

    One exact division: 1 / inverse taken first to any finite number of digits can turn an exact half
    (126 / 1.44 = 87.5) into 87.4999…, which would round the wrong way.
    """
    exact = Fraction(minor) * Fraction(scale) / Fraction(Decimal(inverse))
    whole, rest = divmod(abs(exact.numerator), exact.denominator)
    rounded = whole + (1 if 2 * rest >= exact.denominator else 0)
    return rounded if exact >= 0 else -rounded


def _unicode_lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """SQLite's own lower() folds only ASCII; opp's searches fold every script, as PostgreSQL does."""
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    dbapi_connection.create_function("opp_convert", 4, convert_minor_value, deterministic=True)
    dbapi_connection.create_function(
        "opp_convert_through", 6, convert_minor_through_value, deterministic=True
    )
    register_ratio_function(dbapi_connection)


def convert_minor(dialect_name: str, minor: Any, rate: Any, inverse: Any, shift: Any) -> ColumnElement[int]:
    """SQL for :func:`convert_minor_value`."""
    if dialect_name == "sqlite":
        return func.opp_convert(minor, rate, inverse, shift)
    # numeric throughout (power() of integers would be a float), and a bigint result, as minor units are.
    scaled = cast(minor, Numeric) * func.power(cast(literal(10), Numeric), cast(shift, Numeric))
    # One division with 40 decimals (not 1 / inverse first), so that an exact half stays a half.
    divided = cast(scaled, Numeric(80, 40)) / func.nullif(cast(inverse, Numeric), 0)
    exact = case((rate.is_not(None), scaled * cast(rate, Numeric)), else_=divided)
    return cast(func.round(exact), BigInteger)


def _leg(direct: str | None, inverse: str | None) -> Fraction | None:
    """1 unit of one currency in another: the direct rate, else the inverse one inverted."""
    if direct is not None:
        return Fraction(Decimal(direct))
    return None if inverse is None else 1 / Fraction(Decimal(inverse))


def convert_minor_through_value(
    minor: int | None,
    first_rate: str | None,
    first_inverse: str | None,
    second_rate: str | None,
    second_inverse: str | None,
    shift: int,
) -> int | None:
    """``minor`` × first leg × second leg × 10^shift, exactly, rounded half up once (each leg its
    direct rate, else its inverse inverted); None when a leg has no rate.

    This is SQLite's ``opp_convert_through`` function; PostgreSQL evaluates the same with ``numeric``.
    """
    first, second = _leg(first_rate, first_inverse), _leg(second_rate, second_inverse)
    if minor is None or first is None or second is None:
        return None
    exact = Fraction(minor) * first * second * Fraction(10) ** shift
    whole, rest = divmod(abs(exact.numerator), exact.denominator)
    rounded = whole + (1 if 2 * rest >= exact.denominator else 0)
    return rounded if exact >= 0 else -rounded


def convert_minor_through(
    dialect_name: str, minor: Any, first: tuple[Any, Any], second: tuple[Any, Any], shift: Any
) -> ColumnElement[int]:
    """SQL for :func:`convert_minor_through_value`: each leg a (direct rate, inverse rate) pair."""
    if dialect_name == "sqlite":
        return func.opp_convert_through(minor, *first, *second, shift)
    one = literal(1, Numeric)

    def rate_of(leg: tuple[Any, Any]) -> tuple[Any, Any]:
        """(multiply by, divide by) for one leg."""
        direct, inverse = leg
        return (
            case((direct.is_not(None), cast(direct, Numeric)), else_=one),
            case((direct.is_not(None), one), else_=cast(inverse, Numeric)),
        )

    (times_first, by_first), (times_second, by_second) = rate_of(first), rate_of(second)
    scaled = cast(minor, Numeric) * func.power(cast(literal(10), Numeric), cast(shift, Numeric))
    # One division with 60 decimals, so that an exact half stays a half (the legs' denominators have
    # at most 48 digits).
    divided = cast(scaled * times_first * times_second, Numeric(200, 60)) / func.nullif(
        by_first * by_second, 0
    )
    return cast(func.round(divided), BigInteger)


def date_of(dialect_name: str, instant: Any) -> ColumnElement[Any]:
    """The UTC date of a stored instant."""
    if dialect_name == "sqlite":
        return func.date(instant)
    return cast(instant, Date)


def month_key(dialect_name: str, day: Any) -> ColumnElement[str]:
    """``YYYY-MM`` of a date column."""
    if dialect_name == "sqlite":
        return func.strftime("%Y-%m", day)
    return func.to_char(day, "YYYY-MM")


def quarter_key(dialect_name: str, day: Any) -> ColumnElement[str]:
    """``YYYYQn`` of a date column."""
    if dialect_name == "sqlite":
        month = cast(func.strftime("%m", day), Integer)
        return func.strftime("%Y", day) + literal("Q") + cast((month + 2) // 3, String)
    return func.to_char(day, 'YYYY"Q"Q')


def exponent_case(currency: Any, exponents: dict[str, int]) -> ColumnElement[int]:
    """The number of decimals of each deal's currency, for the currencies at hand."""
    return case(exponents, value=currency, else_=2)


def seconds_between(dialect_name: str, start: Any, end: Any) -> ColumnElement[int]:
    """Whole seconds from one stored instant to a later one (negative if it is earlier)."""
    from sqlalchemy import BigInteger, extract

    if dialect_name == "sqlite":
        return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), Integer)
    return cast(func.round(extract("epoch", end - start)), BigInteger)


def json_text_field(dialect_name: str, document: Any, key: str) -> ColumnElement[Any]:
    """One top-level key of a JSON object stored as text (NULL when absent or null).

    SQLite's json_extract gives numbers as numbers and strings as text; PostgreSQL's ``->>`` gives
    text. Callers cast to the type they need.
    """
    if dialect_name == "sqlite":
        return func.json_extract(document, f"$.{key}")
    from sqlalchemy.dialects.postgresql import JSONB

    extracted: ColumnElement[Any] = cast(document, JSONB)[key].astext
    return extracted


def date_from_text(dialect_name: str, text: Any) -> ColumnElement[Any]:
    """A ``YYYY-MM-DD`` text as a Date column (SQLite stores dates as exactly that text)."""
    from sqlalchemy import type_coerce

    if dialect_name == "sqlite":
        return type_coerce(text, Date)
    return cast(text, Date)


def instant_from_text(dialect_name: str, text: Any) -> ColumnElement[Any]:
    """A ``YYYY-MM-DDTHH:MM:SSZ`` text (as history writes instants) as a naive UTC DateTime column.

    On SQLite the text is rewritten in the form SQLAlchemy stores DateTime in, so that it compares
    with stored instants and bound parameters exactly.
    """
    from sqlalchemy import DateTime, type_coerce

    if dialect_name == "sqlite":
        return type_coerce(func.strftime("%Y-%m-%d %H:%M:%S.000000", text), DateTime)
    return cast(func.replace(text, "Z", ""), DateTime)


def date_as_text(dialect_name: str, day: Any) -> ColumnElement[str]:
    """A Date column as its ``YYYY-MM-DD`` text (SQLite stores a date as exactly that text)."""
    if dialect_name == "sqlite":
        stored: ColumnElement[str] = day
        return stored
    return func.to_char(day, "YYYY-MM-DD")


def instant_as_text(dialect_name: str, instant: Any) -> ColumnElement[str]:
    """A stored instant (naive UTC) as ``YYYY-MM-DDTHH:MM:SSZ``, as history writes instants."""
    if dialect_name == "sqlite":
        return func.strftime("%Y-%m-%dT%H:%M:%SZ", instant)
    return func.to_char(instant, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')


def json_object_text(dialect_name: str, pairs: Mapping[str, Any]) -> ColumnElement[str]:
    """A JSON object of these keys (fixed names, written into the SQL) and values, as text.

    The keys keep their order on both databases; the spacing differs (SQLite writes none), which no
    reader of the text sees: every reader parses it.
    """
    from sqlalchemy import Text, literal_column

    for key in pairs:
        if not key.replace("_", "").isalnum():
            raise ValueError(f"not a key to write into SQL: {key!r}")
    arguments = list(chain.from_iterable((literal_column(f"'{key}'"), value) for key, value in pairs.items()))
    if dialect_name == "sqlite":
        return func.json_object(*arguments, type_=Text)
    return cast(func.json_build_object(*arguments), Text)


# SQLite keeps exact integers only below 2**63 (above that it silently turns to floating point), and
# PostgreSQL's bigint stops there too (above that it raises).
INTEGER_LIMIT = 2**63 - 1


def wide_sum(dialect_name: str, minor: Any) -> ColumnElement[Any]:
    """A sum that cannot overflow, for checking that the exact one will not: SQLite's total() (a
    float), PostgreSQL's sum of numeric (exact)."""
    if dialect_name == "sqlite":
        return func.total(minor)
    return func.sum(cast(minor, Numeric))


def _ratio_round_value(minor: int | None, numerator: int | None, denominator: int | None) -> int | None:
    """``minor`` × numerator / denominator rounded half up, in Python's unbounded integers."""
    if minor is None or numerator is None or not denominator:
        return None
    return (2 * minor * numerator + denominator) // (2 * denominator)


def register_ratio_function(dbapi_connection: Any) -> None:
    dbapi_connection.create_function("opp_ratio_round", 3, _ratio_round_value, deterministic=True)


def ratio_round(
    dialect_name: str, minor: Any, numerator: Any, denominator: Any, *, fits_in_64_bits: bool
) -> ColumnElement[int]:
    """``minor`` × numerator / denominator rounded half up (non-negative integers), exactly.

    When the products are known to fit in 64 bits both databases do it in their own integer
    arithmetic (integer division of non-negative numbers is the floor). Otherwise SQLite calls a Python
    function and PostgreSQL works in ``numeric``, whose integer division is exact at any size.
    """
    if fits_in_64_bits:
        exact: ColumnElement[int] = (2 * minor * numerator + denominator) // (2 * denominator)
        return exact
    if dialect_name == "sqlite":
        return func.opp_ratio_round(minor, numerator, denominator)
    wide = cast(minor, Numeric)
    return cast(func.div(2 * wide * numerator + denominator, 2 * cast(denominator, Numeric)), BigInteger)


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, ids: Sequence[int] | None = None
) -> None:
    """Insert ``rows`` (mappings with the same keys; ``ids``, if given, their ids) in a few statements.

    On SQLite the INSERT is compiled once and the rows go straight to the driver, each value through
    its column type's own bind processor, column by column, a repeated value (the command's instant, a
    common date) processed once: for a bulk import SQLAlchemy's per-row parameter handling would cost
    more than SQLite's insert itself. The rows go in as multi-row INSERTs (up to a thousand rows, within
    the connection's limit of parameters), not an executemany: SQLite opens a statement savepoint for
    every statement run in a transaction, and the FTS5 search index (opp.store.search), filled by a
    trigger, writes out what it holds at every savepoint, so that an executemany would write one
    index segment per row and merge them again and again (about ten times slower over a whole import).
    Errors are SQLAlchemy's as usual. PostgreSQL takes the ordinary path (SQLAlchemy batches it into
    multi-row INSERTs).
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        given = list(rows) if ids is None else [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
        conn.execute(insert(table), given)
        return
    keys = tuple(rows[0]) if ids is None else (*rows[0], "id")
    statement, order, processors = _compiled_insert(conn, table, keys)
    columns = []
    for key, process in zip(order, processors, strict=True):
        values = list(ids) if ids is not None and key == "id" else [row[key] for row in rows]
        columns.append(values if process is None else _processed(values, process))
    per_statement = _rows_per_statement(conn, len(order))
    if per_statement <= 1 or len(rows) == 1:
        conn.exec_driver_sql(statement, list(zip(*columns, strict=True)))
        return
    head, _, group = statement.partition(" VALUES ")
    for start in range(0, len(rows), per_statement):
        chunk = zip(*(values[start : start + per_statement] for values in columns), strict=True)
        flat = tuple(chain.from_iterable(chunk))
        count = len(flat) // len(order)
        conn.exec_driver_sql(f"{head} VALUES {', '.join([group] * count)}", flat)


#: Rows in one multi-row INSERT at most: a statement per this many rows rather than one a row.
_ROWS_PER_INSERT = 1000


def _rows_per_statement(conn: Connection, width: int) -> int:
    """How many rows of ``width`` values one INSERT on this SQLite connection may carry (its limit of
    ``?`` parameters: 32766 since SQLite 3.32, 999 before)."""
    if width == 0:
        return 1
    driver = conn.connection.dbapi_connection
    getlimit = getattr(driver, "getlimit", None)  # Python 3.11
    limit = getlimit(_SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit is not None else 999
    return max(1, min(_ROWS_PER_INSERT, limit // width))


_SQLITE_LIMIT_VARIABLE_NUMBER = 9  # sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, without importing sqlite3


def _processed(values: list[Any], process: Any) -> list[Any]:
    """``process`` applied to each value, once per distinct value when at least half of them repeat."""
    try:
        distinct = set(values)
    except TypeError:  # an unhashable value (a JSON document)
        distinct = None
    if distinct is None or len(distinct) * 2 > len(values):
        return [process(value) for value in values]
    done = {value: process(value) for value in distinct}
    return [done[value] for value in values]


# Per dialect (an engine's, forgotten with it): (table, columns) -> what _compiled_insert returns.
_COMPILED: WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[str, tuple[str, ...], list[Any]]]]
_COMPILED = WeakKeyDictionary()


def _compiled_insert(
    conn: Connection, table: Table, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...], list[Any]]:
    """The INSERT of these columns as the driver takes it, its parameters' order and their processors."""
    dialect = conn.dialect
    known = _COMPILED.setdefault(dialect, {})
    found = known.get((table, keys))
    if found is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(keys):
            raise ValueError(f"cannot bind {keys} to the INSERT of {table.name}")
        processors = [_faster(table.c[key].type.dialect_impl(dialect), dialect) for key in order]
        found = known[(table, keys)] = (compiled.string, order, processors)
    return found


def _faster(impl: Any, dialect: Any) -> Any:
    """The bind processor of a column type; for SQLite's DATETIME and DATE in their default storage
    format, one that writes the same text from ``isoformat`` (a few times quicker) and leaves any
    other value to SQLAlchemy's."""
    process = impl.bind_processor(dialect)
    if process is None or dialect.name != "sqlite":
        return process
    from sqlalchemy.dialects import sqlite  # loaded already: the connection is SQLite's

    if isinstance(impl, sqlite.DATETIME) and impl._storage_format == sqlite.DATETIME._storage_format:

        def process_datetime(value: Any, slow: Any = process) -> Any:
            if type(value) is datetime and value.tzinfo is None:
                return value.isoformat(" ", "microseconds")  # %Y-%m-%d %H:%M:%S.%f, as SQLAlchemy's
            return slow(value)

        return process_datetime
    if isinstance(impl, sqlite.DATE) and impl._storage_format == sqlite.DATE._storage_format:

        def process_date(value: Any, slow: Any = process) -> Any:
            if type(value) is date:
                return value.isoformat()  # %Y-%m-%d, as SQLAlchemy's
            return slow(value)

        return process_date
    return process


def insert_returning_ids(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert ``rows`` into ``table`` with one executemany and return their new ids, in the rows' order.

    PostgreSQL's RETURNING, batched by SQLAlchemy's "insertmanyvalues", hands the ids back in the order
    of the rows (``sort_by_parameter_order``). SQLite cannot tie RETURNING rows to parameter sets, and
    SQLAlchemy would fall back to one INSERT a row; so there the ids are given here, as SQLite would
    give them (one more than the largest so far). That is safe only inside opp's write transaction
    (``BEGIN IMMEDIATE`` holds the write lock from its first statement), the only place opp writes.
    """
    if not rows:
        return []
    id_column = table.c.id
    if conn.dialect.name != "sqlite":
        statement = insert(table).returning(id_column, sort_by_parameter_order=True)
        return list(conn.execute(statement, list(rows)).scalars())
    last = conn.execute(select(func.max(id_column))).scalar() or 0
    ids = list(range(last + 1, last + 1 + len(rows)))
    insert_rows(conn, table, rows, ids=ids)
    return ids


def days_between_dates(dialect_name: str, start: Any, end: Any) -> ColumnElement[int]:
    """Whole days from one ``YYYY-MM-DD`` text (as history stores a date) to another, later one."""
    if dialect_name == "sqlite":
        return cast(func.julianday(end) - func.julianday(start), Integer)
    return cast(cast(end, Date) - cast(start, Date), Integer)
