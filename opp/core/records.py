"""The records the core hands out: plain frozen dataclasses whose fields are the contract's JSON keys.

Money is ``Decimal`` quantized to its currency's minor unit; dates are ``date``; instants are aware UTC
``datetime``. The CLI's renderer turns these into table, JSON or CSV text; a script uses them directly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from opp.core.values import PLAIN_TYPES, plain


class Record:
    """Mixin: a record as an ordered dict of its contract keys (nested records become dicts).

    ``as_dict`` returns plain values only (dicts, lists and scalars), also where a record overrides
    it: the renderer writes the result as it is."""

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies every value: the values are immutable already,
        # and a listing of a million deals calls this a million times. A record's attributes are its
        # fields, set in their order (by __init__ or by built()): copied at once, and only the values
        # that are not plain already (nested records, dicts, lists) made plain.
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]
        found = self.__dict__.copy()
        if len(found) != len(names):  # something else stored on the instance: the fields alone
            return {name: plain(getattr(self, name)) for name in names}
        for key, value in found.items():
            if type(value) not in PLAIN_TYPES:
                found[key] = plain(value)
        return found


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_new = object.__new__

R = TypeVar("R", bound=Record)


def built(record: type[R], **values: Any) -> R:
    """``record(**values)`` for a listing's hot path: the same frozen record, its fields set directly
    instead of one ``object.__setattr__`` each through the dataclass ``__init__`` (a tenth of the
    time). ``values`` must be every field, in the class's order; only for records with no
    ``__post_init__`` (tests/test_records.py checks both)."""
    made = _new(record)
    made.__dict__.update(values)
    return made


@dataclass(frozen=True)
class CustomerRef(Record):
    id: int
    kind: str
    name: str


@dataclass(frozen=True)
class EmployerRef(Record):
    """The organization an individual works for, as a customer's JSON names it."""

    id: int
    name: str


@dataclass(frozen=True)
class Customer(Record):
    id: int
    kind: str
    name: str
    email: str | None
    phone: str | None
    #: For an individual, the organization they work for and their job title (None otherwise).
    employer: EmployerRef | None = None
    job_title: str | None = None
    #: Every custom field defined for customers, None where unset (see opp.core.fields).
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class User(Record):
    handle: str
    name: str | None
    email: str | None


@dataclass(frozen=True)
class Stage(Record):
    key: str
    name: str
    probability: int
    position: int
    kind: str
    #: The forecast category of the stage's deals (unless a deal's is set by hand).
    category: str = "pipeline"

    @property
    def is_open(self) -> bool:
        return self.kind == "open"


@dataclass(frozen=True)
class NextTask(Record):
    """An open deal's next step: its open task due first (undated ones last, then the first added)."""

    id: int
    title: str
    due: date | None


@dataclass(frozen=True)
class Opportunity(Record):
    id: int
    title: str
    description: str | None
    customer: CustomerRef
    value: Decimal
    currency: str
    probability: int
    forecast: Decimal
    stage: str
    status: str
    expected_close: date | None
    external_ref: str | None
    assignee: str | None
    lost_reason: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    # Bumped by every change to the deal: `opp edit --if-version` refuses to work on a stale copy.
    version: int
    #: Null for a closed deal, or an open one with no open task (``opp list --without-task``).
    next_task: NextTask | None = None
    #: The forecast category: won deals ``closed``, lost ones ``omitted``, an open deal the one set by
    #: hand (``category_set``) else its stage's (see opp.core.pipeline.categories).
    category: str = "pipeline"
    category_set: bool = False
    #: Every custom field defined for deals, None where unset (see opp.core.fields).
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event(Record):
    id: int
    opportunity_id: int
    at: datetime
    actor: str
    action: str
    field: str | None
    #: A ``created`` event's are the deal's fields (money as ``Decimal``); other events' are text.
    old: str | dict[str, Any] | None
    new: str | dict[str, Any] | None
    note: str | None


@dataclass(frozen=True)
class Setting(Record):
    key: str
    value: str | None
    default: str | None
    description: str


@dataclass(frozen=True)
class Task(Record):
    """A next step on a deal, for someone, maybe by a day (see opp.core.work.tasks)."""

    id: int
    opportunity_id: int
    title: str
    due: date | None
    assignee: str | None
    status: str
    created_at: datetime
    done_at: datetime | None


@dataclass(frozen=True)
class Ticket(Record):
    """A support ticket on a deal or on a customer alone (see opp.core.work.tickets); ``hours`` is all
    the time logged on it, to the hundredth."""

    id: int
    opportunity_id: int | None
    customer: CustomerRef
    title: str
    kind: str
    priority: str
    status: str
    assignee: str | None
    opened_at: datetime
    solved_at: datetime | None
    hours: Decimal
