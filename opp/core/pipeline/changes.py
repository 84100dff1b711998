"""One path for changing a deal that exists: the rules every change obeys, and the column values and
history events it makes.

``opp edit``, ``opp stage``, ``opp assign`` and an import's update of the deal a row's external ref
names build their change here, field by field, with a :class:`DealChange`, and write it with
:meth:`DealChange.write`: one UPDATE guarded by the version read, and one history event per changed
field (written through opp.core.pipeline.codec), in the caller's unit of work, so that a change and its
events commit together. The rules, each in one place:

- text within its length limit (:func:`clean_title` and its siblings, which creating a deal and
  reading an import row use too);
- a deal with billable lines keeps its currency (the lines'); a new currency without a new value
  re-expresses the value in it, refused when the amount has more decimals than that currency allows;
- a closed deal's probability is fixed (100 won, 0 lost);
- a stage brings what it implies: its default probability when the deal moves into it (unless one is
  given), the status of its kind, a ``closed_at`` on a closed deal only (the one given, never before the
  deal's creation, else the one the deal has if it was closed already, else now), a lost reason on a
  lost deal only, and the instant the deal entered the stage (its closing, else now).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from opp.core.context import UnitOfWork
from opp.core.dates import format_date
from opp.core.errors import Conflict, Invalid
from opp.core.money.amounts import from_minor, to_minor
from opp.core.pipeline.codec import assignee_text, column_of, field_text, money_text
from opp.core.pipeline.stages import check_probability
from opp.core.records import Stage
from opp.core.refs import clean_text
from opp.store import schema

o = schema.opportunities
h = schema.history

TITLE_LENGTH = 500
DESCRIPTION_LENGTH = 100_000
REF_LENGTH = 200
REASON_LENGTH = 2000


def clean_title(text: str | None) -> str:
    title = clean_text(text, what="title", max_length=TITLE_LENGTH, required=True)
    assert title is not None  # required=True
    return title


def clean_description(text: str | None) -> str | None:
    return clean_text(text, what="description", max_length=DESCRIPTION_LENGTH)


def clean_ref(text: str | None) -> str | None:
    return clean_text(text, what="external ref", max_length=REF_LENGTH)


def clean_reason(text: str | None, *, what: str = "lost reason", required: bool = False) -> str | None:
    return clean_text(text, what=what, max_length=REASON_LENGTH, required=required)


def check_ref_free(conn: Connection, ref: str | None, deal_id: int | None = None) -> None:
    """Refuse an external ref another deal holds (``deal_id``, the deal being changed, may hold it)."""
    if ref is None:
        return
    holder = conn.execute(select(o.c.id).where(o.c.external_ref == ref)).scalar()
    if holder is not None and holder != deal_id:
        raise ref_taken(ref, holder)


def ref_taken(ref: str, holder: int) -> Conflict:
    return Conflict(f"external ref {ref!r} already belongs to opportunity {holder}")


class Keep(enum.Enum):
    """Leave a field as the deal has it (where None would clear it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class FieldChange:
    """One changed field as its history event holds it: the field and its ``old`` and ``new`` texts."""

    field: str
    old: str | None
    new: str | None


@dataclass
class DealChange:
    """The change one command makes to one deal read (and locked) as ``row``: the new column values,
    and the field changes its history events record, in the order they were made."""

    uow: UnitOfWork
    row: RowMapping
    values: dict[str, Any] = field(default_factory=dict)
    changes: list[FieldChange] = field(default_factory=list)

    def value_of(self, column: str) -> Any:
        """The column's value once this change is written."""
        return self.values.get(column, self.row[column])

    def set(self, name: str, new: Any) -> None:
        """Set the history field ``name`` (the value of its column) to ``new``: a change if it differs.

        ``assignee`` is set with :meth:`assign`, which knows the handle history writes.
        """
        if name == "assignee":
            raise ValueError("an assignee is set with assign(), which knows the handle")
        column = column_of(name)
        old = self.row[column]
        self._forget(name)
        if new == old:
            self.values.pop(column, None)
            return
        self.values[column] = new
        old_currency, currency = self.row["currency"], self.value_of("currency")
        self.changes.append(
            FieldChange(name, field_text(name, old, old_currency), field_text(name, new, currency))
        )

    def _forget(self, name: str) -> None:
        """Drop an earlier change of the field ``name``: a field set twice is changed once."""
        self.changes = [change for change in self.changes if change.field != name]

    def assign(self, user_id: int | None, handle: str | None) -> None:
        """Give the deal to the user with this id and handle (None: to no one)."""
        self._forget("assignee")
        self.values.pop("assignee_id", None)
        if user_id != self.row["assignee_id"]:
            self.values["assignee_id"] = user_id
            old = assignee_text(self.uow.conn, self.row["assignee_id"])
            self.changes.append(FieldChange("assignee", old, handle))

    def currency(self, code: str) -> None:
        """Set the currency (a canonical code); set the value after it (:meth:`value`)."""
        if code != self.row["currency"]:
            from opp.core.billing.billables import has_lines

            deal_id, old_code = self.row["id"], self.row["currency"]
            if has_lines(self.uow.conn, deal_id):
                raise Conflict(
                    f"opportunity {deal_id} has billable lines in {old_code}, so its currency cannot change",
                    hint="remove its uninvoiced lines first",
                    reason="currency-has-lines",
                    details={"deal": deal_id},
                )
        self.set("currency", code)

    def value(self, minor: int | None = None) -> None:
        """Set the value, in minor units of the deal's (new) currency; None re-expresses the value the
        deal has in its new currency, refused when that currency cannot hold it."""
        code, old_code = self.value_of("currency"), self.row["currency"]
        if minor is None:
            old_minor = self.row["value_minor"]
            try:
                minor = to_minor(from_minor(old_minor, old_code).normalize(), code)
            except Invalid as exc:
                raise Invalid(
                    f"the value {money_text(old_minor, old_code)} cannot be expressed in {code}"
                ) from exc
        self.set("value", minor)

    def probability(self, chance: int) -> None:
        """Set the probability of the deal in the stage it is in: a closed deal's is fixed."""
        if self.row["status"] != "open" and chance != self.row["probability"]:
            raise Invalid(
                f"a {self.row['stage']} deal has probability {self.row['probability']}, not {chance}",
                hint="reopen it to change its probability",
                reason="reopen-to-change-probability",
            )
        self.set("probability", chance)

    def stage(
        self,
        target: Stage,
        *,
        probability: int | None = None,
        closed_at: datetime | None = None,
        lost_reason: str | Keep | None = KEEP,
    ) -> None:
        """Put the deal in ``target`` (the rules of moving between stages are the caller's, see
        opp.core.pipeline.stages.plan_move) with everything the stage implies; see the module doc.

        ``probability`` None is the target's default when the deal moves, else the one it has;
        ``closed_at`` (naive UTC) is taken on a closed stage only; ``lost_reason`` KEEP keeps the
        deal's on a lost deal.
        """
        row, at = self.row, self.uow.at
        moved = target.key != row["stage"]
        if probability is None:
            probability = target.probability if moved else row["probability"]
        check_probability(target, probability)
        if isinstance(lost_reason, str) and target.kind != "lost":
            raise Invalid(f"lost_reason is given but the stage is {target.key}, not closed-lost")
        closed = None
        if not target.is_open:
            closed = closed_at or (row["closed_at"] if row["status"] != "open" else at)
            if closed_at is not None and closed_at < row["created_at"]:
                raise Invalid(
                    f"closed_at {format_date(closed.date())} is before the deal's creation "
                    f"{format_date(row['created_at'].date())}"
                )
        self.set("stage", target.key)
        self.set("probability", probability)
        self.set("status", target.kind)
        self.set("closed_at", closed)
        if moved:
            self.values["stage_changed_at"] = closed or at
        reason = (
            (row["lost_reason"] if lost_reason is KEEP else lost_reason) if target.kind == "lost" else None
        )
        self.set("lost_reason", reason)

    def write(self, *, action: str, note: str | None = None) -> bool:
        """Write the change and its history events (``action``, ``note``); False when nothing changed.

        A change of custom fields alone (their values written by opp.core.fields) still bumps the deal's
        version and ``updated_at``, and records its events."""
        if not self.values and not self.changes:
            return False
        write_deal(self.uow, self.row, self.values, self.changes, action=action, note=note)
        return True


def write_deal(
    uow: UnitOfWork,
    row: RowMapping,
    values: dict[str, Any],
    changes: Iterable[FieldChange],
    *,
    action: str,
    note: str | None = None,
) -> None:
    """Apply ``values`` to the deal read as ``row`` and record one event per changed field.

    The UPDATE is guarded by the version read, so a change based on stale data can never overwrite
    another operator's; it is refused naming who changed the deal since.
    """
    result = uow.conn.execute(
        update(o)
        .where(o.c.id == row["id"], o.c.version == row["version"])
        .values(**values, updated_at=uow.at, version=row["version"] + 1)
    )
    if result.rowcount != 1:
        last = uow.conn.execute(
            select(h.c.actor).where(h.c.opportunity_id == row["id"]).order_by(h.c.id.desc()).limit(1)
        ).scalar()
        raise Conflict(
            f"opportunity {row['id']} was changed by {last or 'someone else'} while this command ran",
            hint="look at the deal again and try again",
            reason="changed-meanwhile",
            details={"deal": row["id"]},
        )
    for change in changes:
        uow.record(row["id"], action, field=change.field, old=change.old, new=change.new, note=note)
