"""Custom fields: a team's own typed fields on deals and customers (region, channel, renewal date).

A field is defined once (``opp field add``) with a type: ``text``, ``number`` (a decimal), ``date`` (the
date forms of opp.core.dates) or ``choice`` (one of its choices: typed in any case, stored as defined).
Values live in ``field_values``, one row per record that holds one (see migration 0009 for why), so
that ``--where`` and ``--by`` run in SQL through its indexes. Every record's JSON carries ``fields``, an
object with every field defined for its kind, null where unset.

A deal's field changes are ``updated`` history events named after the field (texts written through
opp.core.pipeline.codec), so ``--as-of`` rebuilds them (:func:`field_rows`) and ``opp undo`` reverts
them. A customer's are one ``fields`` event of its customer history per command
(:func:`record_customer_changes`: JSON objects of the old and new texts of the fields it changed), which
``opp undo`` reverts (:func:`restore_customer_texts`).

``--where`` semantics, decided once here: ``NAME=V`` holds where the field holds V; ``NAME!=V`` where it
does not, an unset value included (``region!=EU`` keeps deals with no region); ``NAME=`` (nothing after
the operator) holds where the field is unset and ``NAME!=`` where it is set; ``>=``, ``<=``, ``>``, ``<``
(numbers and dates only) hold only where a value is set. Text compares exactly; a choice compares with
the choice as defined (input in any case, an unknown choice is refused).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, delete, exists, func, insert, select, update

from opp.core.context import Context, UnitOfWork
from opp.core.dates import parse_date
from opp.core.errors import Conflict, Invalid, NotFound
from opp.core.pipeline.codec import custom_sql, custom_text, custom_value
from opp.core.records import Record
from opp.store import schema

cf = schema.custom_fields
fv = schema.field_values
h = schema.history

TYPES = ("text", "number", "date", "choice")
RECORDS = ("deal", "customer")
NAME_LENGTH = 40
TEXT_LENGTH = 500
CHOICE_LENGTH = 100
#: Significant digits a number may have: a double (``number_value``) holds them exactly.
NUMBER_DIGITS = 15
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_WHERE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<)(.*)\Z", re.DOTALL)
OPERATORS = ("=", "!=", ">=", "<=", ">", "<")

#: Names a custom field may not take: every key and column of deals and customers, the history fields,
#: the import and export columns, the sort and group names, and the JSON keys records carry.
RESERVED = frozenset(
    {
        *(column.name for column in schema.opportunities.columns),
        *(column.name for column in schema.customers.columns),
        *("id", "title", "description", "customer", "value", "currency", "probability", "forecast"),
        *("stage", "status", "expected_close", "external_ref", "assignee", "lost_reason"),
        *("created_at", "updated_at", "closed_at", "version", "kind", "name", "email", "phone"),
        *("customer_kind", "customer_id", "customer_name", "customer_email", "customer_phone"),
        *("assignee_name", "fields", "field", "history", "billing", "contacts", "next_task", "category"),
        *("category_set", "employer", "job_title", "people", "opportunities", "totals", "line", "close"),
        *("created", "updated", "closed", "key", "count", "month", "quarter", "year", "week", "total"),
        *("groups", "rollups", "internal", "meeting", "note", "old", "new", "action", "actor", "at"),
        *("handle", "deal", "deals", "type", "choices", "on", "record", "values", "tags", "lost"),
    }
)


@dataclass(frozen=True)
class FieldDef(Record):
    """A custom field as ``opp field list`` shows it: ``values`` counts the records holding one."""

    name: str
    type: str
    on: str
    choices: list[str] | None
    values: int


@dataclass(frozen=True)
class Defined:
    """A custom field as the database holds it (what the services work with)."""

    id: int
    name: str
    record: str
    type: str
    choices: tuple[str, ...]
    created_at: datetime


# -- definitions ---------------------------------------------------------------------------------------


def check_name(text: str) -> str:
    """A new field's name: lower case ``[a-z][a-z0-9_]*``, at most 40 characters, not a built-in key."""
    name = text.strip()
    if not _NAME.match(name):
        raise Invalid(
            f"invalid field name {text!r}",
            hint="a name is lower case letters, digits and _, starting with a letter: region, renewal_date",
        )
    if len(name) > NAME_LENGTH:
        raise Invalid(
            f"field name {name!r} is {len(name)} characters long; at most {NAME_LENGTH} are allowed"
        )
    if name in RESERVED:
        raise Invalid(
            f"{name!r} is a built-in key of opp, not a name for a custom field", hint="choose another"
        )
    return name


def _choice_list(text: str | Sequence[str] | None) -> list[str]:
    """Choices as given (``A,B,C`` or a list), trimmed, none empty or twice (in any case)."""
    if text is None:
        return []
    parts = text.split(",") if isinstance(text, str) else [p for item in text for p in item.split(",")]
    choices: list[str] = []
    seen: set[str] = set()
    for part in parts:
        choice = part.strip()
        if not choice:
            raise Invalid("a choice must not be empty", hint="give choices as A,B,C")
        if len(choice) > CHOICE_LENGTH:
            raise Invalid(f"choice {choice[:20]!r}… is longer than {CHOICE_LENGTH} characters")
        if choice.casefold() in seen:
            raise Invalid(f"choice {choice!r} is given twice", hint="choices differ in more than case")
        seen.add(choice.casefold())
        choices.append(choice)
    return choices


def _defined(row: Any) -> Defined:
    return Defined(
        id=row.id,
        name=row.name,
        record=row.record,
        type=row.type,
        choices=tuple(json.loads(row.choices)) if row.choices else (),
        created_at=row.created_at,
    )


def defined_fields(conn: Connection, record: str | None = None) -> list[Defined]:
    """The fields defined (for one kind of record, or all), in the order they were added."""
    query = select(cf).order_by(cf.c.id)
    if record is not None:
        query = query.where(cf.c.record == record)
    return [_defined(row) for row in conn.execute(query)]


def find_field(conn: Connection, name: str, *, record: str | None = None) -> Defined:
    """The field named ``name`` (in any case); NotFound when there is none (of that kind)."""
    key = name.strip().lower()
    row = conn.execute(select(cf).where(cf.c.name == key)).first()
    if row is None or (record is not None and row.record != record):
        on = f" on {record}s" if record is not None else ""
        raise NotFound(f"no custom field {key!r}{on}", hint="see the fields there are", reason="no-field")
    return _defined(row)


def _count_values(conn: Connection, field_id: int) -> int:
    return int(
        conn.execute(select(func.count()).select_from(fv).where(fv.c.field_id == field_id)).scalar_one()
    )


def _field_def(conn: Connection, found: Defined) -> FieldDef:
    return FieldDef(
        name=found.name,
        type=found.type,
        on=found.record,
        choices=list(found.choices) if found.type == "choice" else None,
        values=_count_values(conn, found.id),
    )


def add_field(
    ctx: Context, name: str, *, type: str, choices: str | Sequence[str] | None = None, on: str = "deal"
) -> FieldDef:
    """Define a new field; a choice field needs its choices, other types take none."""
    clean = check_name(name)
    kind = type.strip().lower()
    if kind not in TYPES:
        raise Invalid(f"unknown field type {type!r}", hint="use " + ", ".join(TYPES))
    record = on.strip().lower()
    if record not in RECORDS:
        raise Invalid(f"a field is on deals or customers, not {on!r}", hint="use deal or customer")
    listed = _choice_list(choices)
    if kind == "choice" and not listed:
        raise Invalid(
            "a choice field needs its choices",
            hint="give its choices, for example A,B",
            reason="choice-needs-choices",
            details={"name": clean},
        )
    if kind != "choice" and choices is not None:
        raise Invalid(f"only a choice field has choices, and {clean} is {kind}")
    with ctx.unit_of_work("field add") as uow:
        if uow.conn.execute(select(cf.c.id).where(cf.c.name == clean)).first() is not None:
            raise Conflict(
                f"a custom field {clean!r} exists already",
                hint="see the fields there are",
                reason="field-exists",
            )
        uow.conn.execute(
            insert(cf).values(
                name=clean,
                record=record,
                type=kind,
                choices=json.dumps(listed) if listed else None,
                created_at=uow.at,
            )
        )
        return _field_def(uow.conn, find_field(uow.conn, clean))


def list_fields(ctx: Context) -> list[FieldDef]:
    """Every field, deals' first, each with how many records hold a value (one GROUP BY)."""
    with ctx.reading() as conn:
        counts: dict[int, int] = dict(
            conn.execute(select(fv.c.field_id, func.count()).group_by(fv.c.field_id)).all()
        )
        found = sorted(defined_fields(conn), key=lambda d: (RECORDS.index(d.record), d.id))
        return [
            FieldDef(
                d.name, d.type, d.record, list(d.choices) if d.type == "choice" else None, counts.get(d.id, 0)
            )
            for d in found
        ]


def edit_field(ctx: Context, name: str, *, choices: str | Sequence[str]) -> FieldDef:
    """Give a choice field a new list of choices: any may be added; one a record holds stays."""
    listed = _choice_list(choices)
    if not listed:
        raise Invalid("give the field's choices", hint="for example EMEA,APAC,AMER", reason="choices-needed")
    with ctx.unit_of_work("field edit") as uow:
        found = find_field(uow.conn, name)
        if found.type != "choice":
            raise Invalid(f"only a choice field has choices, and {found.name} is {found.type}")
        kept = {choice.casefold(): choice for choice in listed}
        in_use = uow.conn.execute(
            select(fv.c.text_value, func.count()).where(fv.c.field_id == found.id).group_by(fv.c.text_value)
        ).all()
        for value, count in in_use:
            if value.casefold() not in kept:
                raise Conflict(
                    f"choice {value!r} of {found.name} is held by {count} record{'s' if count != 1 else ''}",
                    hint=f"keep {value!r} among the choices, or change those records first",
                )
            if kept[value.casefold()] != value:  # renamed in case only: the records follow
                uow.conn.execute(
                    update(fv)
                    .where(fv.c.field_id == found.id, fv.c.text_value == value)
                    .values(text_value=kept[value.casefold()])
                )
        uow.conn.execute(update(cf).where(cf.c.id == found.id).values(choices=json.dumps(listed)))
        return _field_def(uow.conn, find_field(uow.conn, found.name))


def remove_field(ctx: Context, name: str, *, force: bool = False) -> FieldDef:
    """Remove a field that no record holds a value of (with ``force``, and its values). History keeps
    the events of its past changes."""
    with ctx.unit_of_work("field remove") as uow:
        found = find_field(uow.conn, name)
        gone = _field_def(uow.conn, found)
        if gone.values and not force:
            raise Conflict(
                f"{gone.values} record{'s' if gone.values != 1 else ''} hold a value of {found.name}",
                hint="clear them first, or remove the field with its values",
                reason="field-in-use",
                details={"name": found.name},
            )
        uow.conn.execute(delete(fv).where(fv.c.field_id == found.id))
        uow.conn.execute(delete(cf).where(cf.c.id == found.id))
        return gone


# -- values --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A value as ``field_values`` holds it: its exact text, and the number or date SQL compares."""

    text: str
    number: float | None = None
    day: date | None = None

    def row(self, field_id: int, record_id: int) -> dict[str, Any]:
        return {
            "field_id": field_id,
            "record_id": record_id,
            "text_value": self.text,
            "number_value": self.number,
            "date_value": self.day,
        }


def parse_number(text: str) -> Decimal:
    """A decimal number: ``1250``, ``-3.5``, ``1_000``; no exponent, at most 15 significant digits."""
    cleaned = text.strip().replace("_", "")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", cleaned):
        raise Invalid(f"{text!r} is not a number", hint="write a decimal such as 1250 or 12.5")
    try:
        number = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise Invalid(f"{text!r} is not a number") from exc
    if len(number.normalize().as_tuple().digits) > NUMBER_DIGITS:
        raise Invalid(f"{text!r} has more than {NUMBER_DIGITS} significant digits")
    return number


def parse_value(field: Defined, text: str, today: date) -> Value:
    """``text`` as a value of ``field``, checked by its type (Invalid naming the field otherwise)."""
    try:
        if field.type == "number":
            number = parse_number(text)
            return Value(custom_text("number", number) or "0", number=float(number))
        if field.type == "date":
            day = parse_date(text, today)
            return Value(custom_text("date", day) or "", day=day)
        if field.type == "choice":
            wanted = text.strip().casefold()
            for choice in field.choices:
                if choice.casefold() == wanted:
                    return Value(choice)
            raise Invalid(
                f"{text.strip()!r} is not a choice",
                hint=f"{field.name} is one of " + ", ".join(field.choices),
            )
        cleaned = text.strip()
        if "\x00" in cleaned:
            raise Invalid("text holds a NUL character, which text cannot hold")
        if len(cleaned) > TEXT_LENGTH:
            raise Invalid(f"text is {len(cleaned)} characters long; at most {TEXT_LENGTH} are allowed")
        return Value(cleaned)
    except Invalid as exc:
        exc.message = f"field {field.name} ({field.type}): {exc.message}"
        raise


def parse_assignments(pairs: Iterable[str]) -> list[tuple[str, str]]:
    """``NAME=VALUE`` texts as (name, value) pairs, the name in lower case; ``NAME=`` clears."""
    found: list[tuple[str, str]] = []
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise Invalid(f"{pair!r} is not NAME=VALUE", hint="for example region=EMEA; region= clears it")
        found.append((name.strip().lower(), value))
    return found


@dataclass(frozen=True)
class ValueChange:
    """One field's change on one record: its name and old and new texts (None: unset)."""

    field: str
    old: str | None
    new: str | None


def write_values(
    conn: Connection,
    record: str,
    record_id: int,
    assignments: Sequence[tuple[str, str]],
    today: date,
) -> list[ValueChange]:
    """Set (or with an empty value clear) the named fields of one record; the changes it made, in order.

    The last assignment of a field wins. Nothing is written when a name or value is bad (all are
    checked first).
    """
    if not assignments:
        return []
    fields = {d.name: d for d in defined_fields(conn, record)}
    wanted: dict[str, Value | None] = {}
    for name, text in assignments:
        field = fields.get(name)
        if field is None:
            others = ", ".join(fields) or "none yet"
            raise Invalid(
                f"no custom field {name!r} on {record}s",
                hint=f"the {record} fields: {others}",
                reason="no-field-set",
                details={"record": record, "others": others},
            )
        wanted[name] = None if not text.strip() else parse_value(field, text, today)
    return apply_values(conn, fields, record_id, wanted)


def apply_values(
    conn: Connection, fields: Mapping[str, Defined], record_id: int, wanted: Mapping[str, Value | None]
) -> list[ValueChange]:
    """Write values already checked (None clears) to one record; the changes made, in order."""
    ids = [fields[name].id for name in wanted]
    held = dict(
        conn.execute(
            select(fv.c.field_id, fv.c.text_value).where(fv.c.record_id == record_id, fv.c.field_id.in_(ids))
        ).all()
    )
    changes: list[ValueChange] = []
    for name, value in wanted.items():
        field = fields[name]
        old = held.get(field.id)
        new = None if value is None else value.text
        if old == new:
            continue
        _store(conn, field.id, record_id, value, exists=old is not None)
        changes.append(ValueChange(name, old, new))
    return changes


def _store(conn: Connection, field_id: int, record_id: int, value: Value | None, *, exists: bool) -> None:
    here = (fv.c.field_id == field_id, fv.c.record_id == record_id)
    if value is None:
        conn.execute(delete(fv).where(*here))
    elif exists:
        row = value.row(field_id, record_id)
        conn.execute(update(fv).where(*here).values(**{k: v for k, v in row.items() if k.endswith("_value")}))
    else:
        conn.execute(insert(fv).values(**value.row(field_id, record_id)))


def restore_text(conn: Connection, name: str, record_id: int, text: str | None, record: str = "deal") -> None:
    """Put a field back to a text history holds (undo): the field must still exist."""
    row = conn.execute(select(cf).where(cf.c.name == name, cf.c.record == record)).first()
    if row is None:
        what = "opportunity" if record == "deal" else "customer"
        raise Conflict(
            f"{what} {record_id}: the custom field {name!r} was removed since, so undo cannot restore it"
        )
    field = _defined(row)
    held = conn.execute(
        select(fv.c.text_value).where(fv.c.field_id == field.id, fv.c.record_id == record_id)
    ).first()
    value = None
    if text is not None:
        typed = custom_value(field.type, text)
        value = Value(
            text,
            number=float(typed) if field.type == "number" else None,
            day=typed if field.type == "date" else None,
        )
    _store(conn, field.id, record_id, value, exists=held is not None)


#: The ``field`` of a customer history event that changed custom fields (a name no field can take).
CUSTOMER_FIELDS_EVENT = "fields"


def record_customer_changes(
    uow: UnitOfWork,
    customer_id: int,
    changes: Sequence[ValueChange],
    *,
    action: str = "updated",
    note: str | None = None,
) -> None:
    """One ``fields`` event of the customer's history for the custom fields one command changed: ``old``
    and ``new`` are JSON objects of each changed field's text before and after (null: unset)."""
    if not changes:
        return
    from opp.core.pipeline.customers import record_customer_event

    record_customer_event(
        uow,
        customer_id,
        action,
        field=CUSTOMER_FIELDS_EVENT,
        old=json.dumps({change.field: change.old for change in changes}),
        new=json.dumps({change.field: change.new for change in changes}),
        note=note,
    )


def restore_customer_texts(uow: UnitOfWork, customer_id: int, saved: str, *, note: str) -> None:
    """Put a customer's custom fields back to the texts of a ``fields`` event's side ``saved`` (undo),
    recorded as an ``undo`` event of its history."""
    wanted: dict[str, str | None] = json.loads(saved)
    held = values_texts(uow.conn, "customer", customer_id)
    changes = [
        ValueChange(name, held.get(name), text) for name, text in wanted.items() if held.get(name) != text
    ]
    for change in changes:
        restore_text(uow.conn, change.field, customer_id, change.new, record="customer")
    record_customer_changes(uow, customer_id, changes, action="undo", note=note)


def values_texts(conn: Connection, record: str, record_id: int) -> dict[str, str]:
    """The texts of the field values one record holds, by field name (unset fields left out)."""
    return dict(
        conn.execute(
            select(cf.c.name, fv.c.text_value)
            .join(fv, fv.c.field_id == cf.c.id)
            .where(cf.c.record == record, fv.c.record_id == record_id)
        ).all()
    )


def is_deal_field(conn: Connection, name: str) -> bool:
    return conn.execute(select(cf.c.id).where(cf.c.name == name, cf.c.record == "deal")).first() is not None


def remove_values(conn: Connection, record: str, record_ids: Sequence[int]) -> None:
    """Delete every field value of these records (a deal removed by undo)."""
    ids = select(cf.c.id).where(cf.c.record == record)
    conn.execute(delete(fv).where(fv.c.record_id.in_(list(record_ids)), fv.c.field_id.in_(ids)))


def set_customer_fields(ctx: Context, ref: str, assignments: Iterable[str]) -> dict[str, Any]:
    """Set custom field values of a customer (``NAME=VALUE``, ``NAME=`` clears) and return its
    ``fields``: what editing a customer's custom fields from the command line calls."""
    from opp.core.pipeline.customers import resolve_customer

    pairs = parse_assignments(assignments)
    with ctx.unit_of_work("customer edit") as uow:
        customer = resolve_customer(uow.conn, ref)
        changes = write_values(uow.conn, "customer", customer.id, pairs, ctx.clock.today())
        record_customer_changes(uow, customer.id, changes)
        return values_of(uow.conn, "customer", [customer.id])[customer.id]


def record_deal_changes(
    uow: UnitOfWork, deal_id: int, changes: Sequence[ValueChange], *, action: str = "updated"
) -> None:
    """One history event per changed deal field (for a deal whose row is not otherwise rewritten)."""
    for change in changes:
        uow.record(deal_id, action, field=change.field, old=change.old, new=change.new)


# -- reading -------------------------------------------------------------------------------------------


def field_rows(
    conn: Connection, field: Defined, as_of: datetime | None = None, *, name: str | None = None
) -> FromClause:
    """The records holding a value of ``field``: ``record_id``, ``text_value``, ``number_value``,
    ``date_value``. Now, from ``field_values``; at an instant (deal fields), rebuilt from history: each
    deal's latest event of the field before the instant, since the field was made. ``name`` names the
    subquery (a query reading the field at two instants needs two names)."""
    label = name or f"field_{field.id}"
    if as_of is not None and field.record == "deal" and not _changed_since(conn, field, as_of):
        as_of = None  # no event of the field since: its values now are its values then
    if as_of is None or field.record != "deal":
        return (
            select(fv.c.record_id, fv.c.text_value, fv.c.number_value, fv.c.date_value)
            .where(fv.c.field_id == field.id)
            .subquery(label)
        )
    dialect = conn.dialect.name
    latest = (
        select(h.c.opportunity_id.label("record_id"), func.max(h.c.id).label("event_id"))
        .where(
            h.c.field == field.name,
            h.c.action.in_(("updated", "import", "undo")),
            h.c.at < as_of,
            h.c.at >= field.created_at,
        )
        .group_by(h.c.opportunity_id)
        .subquery(f"latest_{field.id}")
    )
    event = h.alias(f"event_{field.id}")
    number = custom_sql(dialect, "number", event.c.new) if field.type == "number" else None
    day = custom_sql(dialect, "date", event.c.new) if field.type == "date" else None
    from sqlalchemy import Date, Float, null, type_coerce

    return (
        select(
            latest.c.record_id,
            event.c.new.label("text_value"),
            (number if number is not None else type_coerce(null(), Float(53))).label("number_value"),
            (day if day is not None else type_coerce(null(), Date)).label("date_value"),
        )
        .select_from(latest.join(event, event.c.id == latest.c.event_id))
        .where(event.c.new.is_not(None))
        .subquery(label)
    )


def _changed_since(conn: Connection, field: Defined, instant: datetime) -> bool:
    """Whether history has an event of ``field`` at or after ``instant`` (the index on (at, field)
    answers from the instant on, which is short for a recent instant)."""
    later = select(h.c.id).where(h.c.at >= instant, h.c.field == field.name).limit(1)
    return conn.execute(later).first() is not None


_CHUNK = 1000


def values_of(
    conn: Connection, record: str, ids: Sequence[int], as_of: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """Each record's ``fields``: every field of its kind, null where unset (one query per call)."""
    fields = defined_fields(conn, record)
    empty = {field.name: None for field in fields}
    found: dict[int, dict[str, Any]] = {record_id: dict(empty) for record_id in ids}
    if not fields or not ids:
        return found
    by_id = {field.id: field for field in fields}
    if len(ids) > _CHUNK:
        for start in range(0, len(ids), _CHUNK):
            found.update(values_of(conn, record, ids[start : start + _CHUNK], as_of))
        return found
    if as_of is None or record != "deal":
        rows: Iterable[Any] = conn.execute(
            select(fv.c.record_id, fv.c.field_id, fv.c.text_value).where(
                fv.c.record_id.in_(list(ids)), fv.c.field_id.in_(list(by_id))
            )
        )
    else:
        rows = []
        for field in fields:
            past = field_rows(conn, field, as_of)
            rows = [
                *rows,
                *(
                    (record_id, field.id, text)
                    for record_id, text in conn.execute(
                        select(past.c.record_id, past.c.text_value).where(past.c.record_id.in_(list(ids)))
                    )
                ),
            ]
    for record_id, field_id, text in rows:
        field = by_id[field_id]
        if record_id in found:
            found[record_id][field.name] = custom_value(field.type, text)
    return found


# -- filters and groups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """One ``--where`` condition as typed: a field name, an operator and the value text."""

    name: str
    operator: str
    value: str


def parse_where(text: str) -> Where:
    """``NAME=V``, ``NAME!=V``, ``NAME>=V``, ``NAME<=V``, ``NAME>V``, ``NAME<V`` (the name in any case)."""
    found = _WHERE.match(text)
    if found is None:
        raise Invalid(
            f"{text!r} is not a condition on a field",
            hint="write NAME=VALUE, NAME!=VALUE, or NAME>=V, NAME<=V, NAME>V, NAME<V for numbers and dates",
        )
    return Where(found.group(1).lower(), found.group(2), found.group(3))


def where_condition(
    conn: Connection, where: Where, today: date, as_of: datetime | None = None
) -> ColumnElement[bool]:
    """The condition on the opportunities table that ``where`` stands for (see the module doc); a
    customer field is a condition on the deal's customer."""
    try:
        field = find_field(conn, where.name)
    except NotFound as exc:
        raise Invalid(
            f"no custom field {where.name!r} to filter on", hint="see the fields there are", reason="no-field"
        ) from exc
    o = schema.opportunities
    subject = o.c.id if field.record == "deal" else o.c.customer_id
    text = where.value.strip()
    if not text:
        if where.operator not in ("=", "!="):
            raise Invalid(f"{where.name}{where.operator} needs a value to compare with")
        return _holding(conn, field, subject, None, as_of, negated=where.operator == "=")
    value = parse_value(field, text, today)
    if where.operator in ("=", "!="):
        return _holding(conn, field, subject, ("=", value), as_of, negated=where.operator == "!=")
    if field.type not in ("number", "date"):
        raise Invalid(
            f"{where.name} is a {field.type} field: it takes = and != only",
            hint=f"{where.operator} compares numbers and dates",
        )
    return _holding(conn, field, subject, (where.operator, value), as_of, negated=False)


def _holding(
    conn: Connection,
    field: Defined,
    subject: ColumnElement[Any],
    match: tuple[str, Value] | None,
    as_of: datetime | None,
    *,
    negated: bool,
) -> ColumnElement[bool]:
    """Whether the record ``subject`` names holds a value of ``field`` (that ``match`` compares so).

    Now, a correlated EXISTS on ``field_values``: a listing with ``--limit`` probes the primary key
    for the deals it reads and stops, instead of collecting every matching record first. At an
    instant, membership in the values rebuilt from history (one aggregate, built once).
    """
    if as_of is None or field.record != "deal":
        found = exists().where(fv.c.field_id == field.id, fv.c.record_id == subject)
        if match is not None:
            found = found.where(_compare(field, fv, *match))
        held: ColumnElement[bool] = ~found if negated else found
        return held
    rows = field_rows(conn, field, as_of)
    records = select(rows.c.record_id)
    if match is not None:
        records = records.where(_compare(field, rows, *match))
    return subject.not_in(records) if negated else subject.in_(records)


def _compare(field: Defined, rows: FromClause, operator: str, value: Value) -> ColumnElement[bool]:
    column: Any
    given: Any
    if field.type == "number":
        column, given = rows.c.number_value, value.number
    elif field.type == "date":
        column, given = rows.c.date_value, value.day
    else:
        column, given = rows.c.text_value, value.text
    comparisons: dict[str, ColumnElement[bool]] = {
        "=": column == given,
        ">=": column >= given,
        "<=": column <= given,
        ">": column > given,
        "<": column < given,
    }
    return comparisons[operator]


def group_key(
    conn: Connection,
    name: str,
    source: FromClause,
    as_of: datetime | None = None,
    *,
    alias: str | None = None,
) -> tuple[Defined, ColumnElement[Any], list[tuple[FromClause, ColumnElement[bool]]]] | None:
    """What grouping by the field ``name`` needs: the field, the key (its text) and the join from the
    deals in ``source``; None when no field has that name. ``alias`` names the field's rows (to join
    them twice, at two instants)."""
    row = conn.execute(select(cf).where(cf.c.name == name.strip().lower())).first()
    if row is None:
        return None
    field = _defined(row)
    rows = field_rows(conn, field, as_of, name=alias)
    subject = source.c.id if field.record == "deal" else source.c.customer_id
    return field, rows.c.text_value, [(rows, rows.c.record_id == subject)]


def key_order(field: Defined, key: str | None) -> tuple[Any, ...]:
    """How groups by a field sort: numbers by value, dates by day, choices as defined, text by text;
    the group of unset values last."""
    if key is None:
        return (1,)
    if field.type == "number":
        return (0, Decimal(key))
    if field.type == "choice" and key in field.choices:
        return (0, field.choices.index(key))
    return (0, key)


def field_names(ctx: Context, record: str | None = None) -> list[str]:
    """The names of the fields defined (for one kind of record), in the order they were added."""
    with ctx.reading() as conn:
        return [field.name for field in defined_fields(conn, record)]


def where_list(texts: Iterable[str]) -> tuple[Where, ...]:
    """Every ``--where`` text parsed (a comma does not split: a value may hold one)."""
    return tuple(parse_where(text) for text in texts)


def where_sql(
    conn: Connection,
    texts: Iterable[str] | None,
    today: date,
    *,
    as_of: datetime | None = None,
    source: FromClause | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions ``texts`` (``--where``) as SQL on the deals of ``source`` (the opportunities table
    unless given: deals rebuilt at an instant, opp.core.pipeline.asof), the fields read as they stood at
    ``as_of`` (now when None). For the reports that select deals their own way rather than through a
    :class:`opp.core.pipeline.scope.Scope` (which takes ``where`` itself)."""
    conditions = [where_condition(conn, where, today, as_of) for where in where_list(texts or ())]
    if source is None:
        return conditions
    from opp.core.pipeline.asof import over

    return [over(condition, source) for condition in conditions]
