"""How a deal's field is written into a history event and read back: the one codec of history values.

A history event holds a field's ``old`` and ``new`` values as text, and a deal's ``created`` event holds
its initial state as a JSON object of the same texts. Every writer of deal history (create, edit, stage,
assign, import, undo) writes through :func:`field_text`; ``opp undo`` reads a value back in Python
(:func:`column_value`) and ``--as-of`` in SQL (:func:`column_sql`, see opp.core.pipeline.asof). Both
readings live here beside the writing, so that they cannot drift apart:

- text fields (title, description, external_ref, lost_reason, stage, status, currency, category) as
  they are (category is the one set by hand, null while the deal follows its stage);
- value: the amount with exactly its currency's decimals (``1234.50``; JPY ``1234``), so that its minor
  units are its digits without the point;
- probability and customer_id: the integer in decimal (a JSON number in the snapshot);
- expected_close: ``YYYY-MM-DD``; closed_at: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds);
- assignee: the user's handle (the opportunities column holds the user's id);
- a null as a null.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    String,
    case,
    cast,
    func,
    select,
)

from opp.core.dates import format_date, format_instant, parse_instant
from opp.core.money.amounts import from_minor, minor_unit, to_minor
from opp.store import schema
from opp.store.dialect import (
    date_as_text,
    date_from_text,
    instant_as_text,
    instant_from_text,
    json_object_text,
)

us = schema.users


class Kind:
    """How values of one kind are written as text and read back, in Python and in SQL, side by side.

    This base is plain text, written and read as it is; a null is a null in every kind.
    """

    def text(self, value: Any, currency: str | None) -> str:
        return str(value)

    def text_sql(
        self, dialect_name: str, column: ColumnElement[Any], deals: FromClause, currencies: Collection[str]
    ) -> ColumnElement[Any]:
        """:meth:`text` in SQL, of a column of ``deals`` (an opportunities table or alias), whose
        currencies are among ``currencies``."""
        return column

    def value(self, conn: Connection, text: str, currency: str | None) -> Any:
        return text

    def sql(self, dialect_name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
        return text


class _Money(Kind):
    """Minor units, written with exactly the currency's decimals: the digits without the point."""

    def text(self, value: Any, currency: str | None) -> str:
        return money_text(value, _needed(currency))

    def value(self, conn: Connection, text: str, currency: str | None) -> Any:
        return to_minor(Decimal(text), _needed(currency))

    def text_sql(
        self, dialect_name: str, column: ColumnElement[Any], deals: FromClause, currencies: Collection[str]
    ) -> ColumnElement[Any]:
        # Grouped by the number of decimals: one branch for the usual two, one for each other count.
        places = {code: minor_unit(code) for code in currencies}
        others = sorted({count for count in places.values() if count != 2})
        whens = [
            (
                deals.c.currency.in_(sorted(code for code, count in places.items() if count == other)),
                _decimal_text(column, other),
            )
            for other in others
        ]
        two = _decimal_text(column, 2)
        return case(*whens, else_=two) if whens else two

    def sql(self, dialect_name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(func.replace(text, ".", ""), BigInteger)


class _Integer(Kind):
    def value(self, conn: Connection, text: str, currency: str | None) -> Any:
        return int(text)

    def sql(self, dialect_name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(text, Integer)


class _Date(Kind):
    def text(self, value: Any, currency: str | None) -> str:
        return format_date(value)

    def value(self, conn: Connection, text: str, currency: str | None) -> Any:
        return date.fromisoformat(text)

    def sql(self, dialect_name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
        return date_from_text(dialect_name, text)

    def text_sql(
        self, dialect_name: str, column: ColumnElement[Any], deals: FromClause, currencies: Collection[str]
    ) -> ColumnElement[Any]:
        return date_as_text(dialect_name, column)


class _Instant(Kind):
    """A stored instant (naive UTC), written in UTC to the second."""

    def text(self, value: Any, currency: str | None) -> str:
        return format_instant(value)

    def value(self, conn: Connection, text: str, currency: str | None) -> Any:
        return parse_instant(text).replace(tzinfo=None)

    def sql(self, dialect_name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
        return instant_from_text(dialect_name, text)

    def text_sql(
        self, dialect_name: str, column: ColumnElement[Any], deals: FromClause, currencies: Collection[str]
    ) -> ColumnElement[Any]:
        return instant_as_text(dialect_name, column)


class _Handle(Kind):
    """A user: the column holds the id, history the handle (written as given, read back as the id)."""

    def value(self, conn: Connection, text: str, currency: str | None) -> Any:
        return conn.execute(select(us.c.id).where(us.c.handle == text)).scalar()

    def sql(self, dialect_name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
        return select(us.c.id).where(us.c.handle == text).scalar_subquery()

    def text_sql(
        self, dialect_name: str, column: ColumnElement[Any], deals: FromClause, currencies: Collection[str]
    ) -> ColumnElement[Any]:
        return select(us.c.handle).where(us.c.id == column).scalar_subquery()


def _decimal_text(minor: ColumnElement[Any], places: int) -> ColumnElement[str]:
    """Non-negative minor units as the amount with ``places`` decimals (``123450``, 2: ``1234.50``),
    in SQL that both databases run: the whole part, a point, and the remainder padded with zeros (the
    remainder plus 10**places, its leading 1 cut off)."""
    if places == 0:
        return cast(minor, String)
    scale = 10**places
    return cast(minor // scale, String) + "." + func.substr(cast(scale + minor % scale, String), 2)


def _needed(currency: str | None) -> str:
    if currency is None:
        raise ValueError("an amount's text is read and written in its currency")
    return currency


TEXT, MONEY, INTEGER, DATE, INSTANT, HANDLE = Kind(), _Money(), _Integer(), _Date(), _Instant(), _Handle()


@dataclass(frozen=True)
class HistoryField:
    """A deal field as history names it, the opportunities column that holds it, and its kind."""

    name: str
    column: str
    kind: Kind


FIELDS: dict[str, HistoryField] = {
    field.name: field
    for field in (
        HistoryField("title", "title", TEXT),
        HistoryField("description", "description", TEXT),
        HistoryField("external_ref", "external_ref", TEXT),
        HistoryField("customer_id", "customer_id", INTEGER),
        HistoryField("value", "value_minor", MONEY),
        HistoryField("currency", "currency", TEXT),
        HistoryField("probability", "probability", INTEGER),
        HistoryField("stage", "stage", TEXT),
        HistoryField("status", "status", TEXT),
        HistoryField("expected_close", "expected_close", DATE),
        HistoryField("assignee", "assignee_id", HANDLE),
        HistoryField("closed_at", "closed_at", INSTANT),
        HistoryField("lost_reason", "lost_reason", TEXT),
        HistoryField("category", "category", TEXT),
    )
}

_SNAPSHOT = json.JSONEncoder(sort_keys=True)  # json.dumps(..., sort_keys=True) without a new encoder a call

#: The fields a ``created`` event's snapshot holds, in the order it writes them: all but the
#: description (as-of reads it from the first edit's ``old`` side) and the category (a new deal follows
#: its stage).
SNAPSHOT_FIELDS = tuple(sorted(name for name in FIELDS if name not in ("description", "category")))


def column_of(name: str) -> str:
    """The opportunities column that holds the history field ``name``."""
    return FIELDS[name].column


# -- writing -------------------------------------------------------------------------------------------


def money_text(minor: int, currency: str) -> str:
    return str(from_minor(minor, currency))


def date_text(day: date | None) -> str | None:
    return None if day is None else format_date(day)


def instant_text(instant: datetime | None) -> str | None:
    """An instant as history writes it; a naive one is a stored instant, in UTC already."""
    return None if instant is None else format_instant(instant)


def field_text(name: str, value: Any, currency: str | None = None) -> str | None:
    """The text history holds for ``value`` of the field ``name``: the column's value (for ``value``
    minor units in ``currency``), except for ``assignee``, whose text is the handle itself."""
    return None if value is None else FIELDS[name].kind.text(value, currency)


def snapshot_sql(dialect_name: str, deals: FromClause, currencies: Collection[str]) -> ColumnElement[str]:
    """:func:`snapshot_text` in SQL, of each row of ``deals`` (an opportunities table or alias) whose
    currency is among ``currencies``: a bulk write makes its ``created`` events in the database, in
    one ``INSERT … SELECT``, rather than a JSON text a deal in Python. The same object (parsed, the
    two are equal: tests check it); its spacing is the database's own."""
    pairs = {
        name: FIELDS[name].kind.text_sql(dialect_name, deals.c[FIELDS[name].column], deals, currencies)
        for name in SNAPSHOT_FIELDS
    }
    return json_object_text(dialect_name, pairs)


def snapshot_text(values: dict[str, Any], *, assignee: str | None) -> str:
    """The ``created`` event's ``new``: a new deal's initial state (``values`` are its opportunities
    row) as a JSON object of history texts, probability and customer_id as numbers.

    The description is left out: as-of takes it from the first edit's ``old`` side, else the deal's.
    opp writes its own through :func:`snapshot_sql`; this one is for writers in Python, such as the
    bench's generator of a million deals' history.
    """
    # Spelled out rather than looped over FIELDS: a bulk writer makes a snapshot per deal.
    currency = values["currency"]
    return _SNAPSHOT.encode(
        {
            "title": values["title"],
            "customer_id": values["customer_id"],
            "value": money_text(values["value_minor"], currency),
            "currency": currency,
            "probability": values["probability"],
            "stage": values["stage"],
            "status": values["status"],
            "expected_close": date_text(values["expected_close"]),
            "external_ref": values["external_ref"],
            "assignee": assignee,
            "closed_at": instant_text(values["closed_at"]),
            "lost_reason": values["lost_reason"],
        }
    )


def assignee_text(conn: Connection, user_id: int | None) -> str | None:
    """The handle history writes for the user with this id (None for no one)."""
    if user_id is None:
        return None
    handle: str | None = conn.execute(select(us.c.handle).where(us.c.id == user_id)).scalar()
    return handle


# -- reading back --------------------------------------------------------------------------------------


def column_value(conn: Connection, name: str, text: str | None, currency: str | None = None) -> Any:
    """The value of the opportunities column behind ``name`` that history's ``text`` stands for
    (for ``value``, read in ``currency``; for ``assignee``, the id of the user with that handle)."""
    return None if text is None else FIELDS[name].kind.value(conn, text, currency)


def column_sql(dialect_name: str, name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
    """:func:`column_value` in SQL: history's ``text`` (a column or expression) in the type of the
    opportunities column behind ``name``; a JSON number of the snapshot is read as its text."""
    return FIELDS[name].kind.sql(dialect_name, text)


# -- custom fields -------------------------------------------------------------------------------------
#
# A custom field's change is an ``updated`` event whose ``field`` is the custom field's name (never one
# of FIELDS: opp.core.fields refuses built-in names). Its texts are the ``text_value`` that
# ``field_values`` holds: a number as its shortest exact decimal (``1250.5``), a date ``YYYY-MM-DD``, text
# and a choice as they are (a choice as defined). Read back in Python by :func:`custom_value` (undo,
# listings) and in SQL by :func:`custom_sql` (``--as-of``).


class _Number(Kind):
    """A custom number: exact decimal text; SQL compares it as a double (see field_values)."""

    def text(self, value: Any, currency: str | None) -> str:
        number = Decimal(value)
        text = format(number.normalize(), "f")
        return "0" if text in ("-0", "0") else text

    def value(self, conn: Connection | None, text: str, currency: str | None) -> Any:
        return Decimal(text)

    def sql(self, dialect_name: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
        from sqlalchemy import Float

        return cast(text, Float(53))


#: The kinds of custom fields by type: text and choice are plain text.
CUSTOM_KINDS: dict[str, Kind] = {"text": TEXT, "choice": TEXT, "number": _Number(), "date": DATE}


def custom_text(field_type: str, value: Any) -> str | None:
    """The text history and ``field_values.text_value`` hold for a custom field's value."""
    return None if value is None else CUSTOM_KINDS[field_type].text(value, None)


def custom_value(field_type: str, text: str | None) -> Any:
    """The Python value (str, Decimal or date) of a custom field's text."""
    return None if text is None else CUSTOM_KINDS[field_type].value(None, text, None)  # type: ignore[arg-type]


def custom_sql(dialect_name: str, field_type: str, text: ColumnElement[Any]) -> ColumnElement[Any]:
    """:func:`custom_value` in SQL: the text as the type ``field_values`` compares (double or date)."""
    return CUSTOM_KINDS[field_type].sql(dialect_name, text)
