"""``opp undo``: revert the acting user's most recent command that is not undone yet.

A command's history events share its ``commands`` row, so undo knows exactly what one command did.
Every field it changed goes back to the ``old`` side of the command's first event for that field, a
deal's contacts to what they were (opp.core.work.contacts), and a customer the command edited or merged
away to what it was (opp.core.pipeline.customers, opp.core.pipeline.merge), in one unit of work that
records ``undo`` events (so history can still rebuild every instant); a deal the command created is
removed, with its history, when nothing else refers to it. The undone command is marked ``undone_by``
the undo, so repeating ``opp undo`` goes further back, as in Taskwarrior. Undo
refuses (Conflict, exit 4) when another user has changed one of the deals since, and for what cannot
be taken back: an invoice, a removed billable line, a deal something else now refers to.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, or_, select, update

from opp.core.context import Context, UnitOfWork
from opp.core.dates import format_instant
from opp.core.errors import Conflict
from opp.core.pipeline import customers
from opp.core.pipeline.changes import FieldChange, check_ref_free, write_deal
from opp.core.pipeline.codec import FIELDS, column_of, column_value
from opp.core.pipeline.deals import lock_deal
from opp.core.records import Record
from opp.core.refs import aware
from opp.store import schema

h = schema.history
cm = schema.commands
o = schema.opportunities
bl = schema.billables
st = schema.stages

# Actions whose events carry a field change that undo reverses.
FIELD_ACTIONS = ("updated", "stage", "assign", "import", "category", "deleted")
#: Actions of the work around a deal, reverted by opp.core.work.undo.
WORK_ACTIONS = ("task", "ticket")


@dataclass(frozen=True)
class UndoResult(Record):
    """What ``opp undo`` reverted: the command (its id, name and time) and the deals it touched."""

    command: int
    name: str
    at: datetime
    events: int
    restored: list[int]
    removed: list[int]


def undo_last(ctx: Context) -> UndoResult:
    """Revert ``ctx.actor``'s most recent command not undone yet; Conflict when it cannot be."""
    with ctx.unit_of_work("undo") as uow:
        command = _last_command(uow.conn, ctx.actor)
        events = list(
            uow.conn.execute(select(h).where(h.c.command_id == command["id"]).order_by(h.c.id)).mappings()
        )
        by_deal: dict[int, list[RowMapping]] = defaultdict(list)
        for event in events:
            by_deal[event["opportunity_id"]].append(event)
        label = f"{command['name']} of {format_instant(command['at'])}"
        for deal_id, deal_events in sorted(by_deal.items()):
            _check_undoable(uow.conn, deal_id, deal_events, ctx.actor)
        customer_events = customers.customer_events(uow.conn, command["id"])
        # The customers the command added (customer add, an import) go last, once its deals are gone.
        added = [event for event in customer_events if event["action"] == "created"]
        if customer_events:
            customers.check_customers_undoable(uow.conn, customer_events, ctx.actor, _reverted_commands())
            # First: a customer merged away must exist again before its deals go back to it.
            changed = [event for event in customer_events if event["action"] != "created"]
            customers.revert_customer_events(uow, changed, note=f"undid {label}")
        restored, removed = [], []
        for deal_id, deal_events in sorted(by_deal.items()):
            if any(event["action"] == "created" for event in deal_events):
                _remove_created(uow, deal_id, command["id"])
                removed.append(deal_id)
            else:
                _restore(uow, deal_id, deal_events, note=f"undid {label}")
                restored.append(deal_id)
        from opp.core.work.undo import revert_unlinked

        revert_unlinked(uow, command["id"])
        customers.revert_customer_events(uow, added, note=f"undid {label}")
        uow.conn.execute(update(cm).where(cm.c.id == command["id"]).values(undone_by=uow.command_id()))
        return UndoResult(
            command=command["id"],
            name=command["name"],
            at=aware(command["at"]),  # type: ignore[arg-type]
            events=len(events) + len(customer_events),
            restored=restored,
            removed=removed,
        )


def _last_command(conn: Connection, actor: str) -> RowMapping:
    row = (
        conn.execute(
            select(cm)
            .where(cm.c.actor == actor, cm.c.name != "undo", cm.c.undone_by.is_(None))
            .order_by(cm.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise Conflict(
            f"nothing to undo: {actor} has no command left that changed a deal",
            hint="undo reverts your own changes to deals",
            reason="nothing-to-undo",
            details={"actor": actor},
        )
    return row


def _check_undoable(conn: Connection, deal_id: int, events: list[RowMapping], actor: str) -> None:
    """Refuse when another user changed the deal since, or the command did what cannot be undone."""
    for event in events:
        if event["action"] == "invoice":
            raise Conflict(f"opportunity {deal_id}: an invoice cannot be undone", hint="invoices are final")
        if event["action"] == "billable" and event["new"] is None:
            raise Conflict(
                f"opportunity {deal_id}: a removed billable line cannot be restored by undo",
                hint="add it again",
                reason="line-removed",
                details={"deal": deal_id},
            )
    later = (
        conn.execute(
            select(h.c.actor, h.c.action, h.c.at)
            .where(
                h.c.opportunity_id == deal_id,
                h.c.id > events[-1]["id"],
                h.c.actor != actor,
                h.c.command_id.not_in(_reverted_commands()),  # changes taken back count for nothing
            )
            .order_by(h.c.id)
            .limit(1)
        )
        .mappings()
        .first()
    )
    if later is not None:
        raise Conflict(
            f"opportunity {deal_id} was changed by {later['actor']} since ({later['action']} at "
            f"{format_instant(later['at'])}); undo refused",
            hint="see its history, and change it back by hand if you still want to",
            reason="changed-since",
            details={"deal": deal_id},
        )


def _reverted_commands() -> Any:
    """Commands that were undone, and the undos themselves: together they changed nothing."""
    return select(cm.c.id).where(or_(cm.c.name == "undo", cm.c.undone_by.is_not(None)))


def _remove_created(uow: UnitOfWork, deal_id: int, command_id: int) -> None:
    """Delete a deal the command created, if nothing but undone work and undos refers to it."""
    conn = uow.conn
    if _has_live_lines(conn, deal_id):
        raise Conflict(
            f"opportunity {deal_id} has billable lines now, so the command that created it cannot be undone",
            reason="created-has-lines",
            details={"deal": deal_id},
        )
    other = conn.execute(
        select(h.c.action, h.c.actor)
        .where(
            h.c.opportunity_id == deal_id,
            h.c.command_id != command_id,
            h.c.command_id.not_in(_reverted_commands()),
        )
        .limit(1)
    ).first()
    if other is not None:
        raise Conflict(
            f"opportunity {deal_id} has history from other commands ({other.action} by {other.actor}), "
            "so the command that created it cannot be undone",
            reason="created-has-history",
            details={"deal": deal_id},
        )
    lock_deal(conn, deal_id)
    conn.execute(delete(bl).where(bl.c.opportunity_id == deal_id))  # only lines already taken back
    conn.execute(delete(h).where(h.c.opportunity_id == deal_id))
    from opp.core.fields import remove_values

    remove_values(conn, "deal", [deal_id])
    conn.execute(delete(o).where(o.c.id == deal_id))


def _restore(uow: UnitOfWork, deal_id: int, events: list[RowMapping], *, note: str) -> None:
    """Put every field the command changed back to its value before the command (a deleted deal
    comes back)."""
    row = lock_deal(uow.conn, deal_id, deleted=True)
    before: dict[str, str | None] = {}  # field -> its value before the command (first event's old)
    now: dict[str, str | None] = {}  # field -> its value after the command (last event's new)
    contact_events = [event for event in events if event["action"] == "contact"]
    if contact_events:
        from opp.core.work.contacts import revert_contact_event

        for event in reversed(contact_events):
            revert_contact_event(uow, deal_id, event, note=note)
    work = [event for event in events if event["action"] in WORK_ACTIONS]
    if work:
        from opp.core.work.undo import revert_events

        revert_events(uow, deal_id, work, note)
    for event in events:
        action, name = event["action"], event["field"]
        if action in WORK_ACTIONS:
            continue
        if action == "billable" and name == "line" and event["new"] is not None:
            _remove_line(uow, deal_id, int(event["new"]), note)
        elif action == "billable" and name == "line" and event["old"] is not None:
            _bring_back_line(uow, deal_id, int(event["old"]), note)
        elif action in FIELD_ACTIONS and name is not None:
            before.setdefault(name, event["old"])
            now[name] = event["new"]
        elif action == "note":
            uow.record(deal_id, "undo", note=f"{note}: withdrew the note of {format_instant(event['at'])}")
    values: dict[str, Any] = {}
    changes: list[FieldChange] = []
    currency = before.get("currency", row["currency"]) or row["currency"]
    for name, old in before.items():
        if old == now[name]:
            continue
        if name not in FIELDS:
            from opp.core import fields as custom

            custom.restore_text(uow.conn, name, deal_id, old)  # a custom field (refused if removed since)
            changes.append(FieldChange(name, now[name], old))
            continue
        values[column_of(name)] = column_value(uow.conn, name, old, currency)
        changes.append(FieldChange(name, now[name], old))
    if "currency" in values and _has_live_lines(uow.conn, deal_id):
        raise Conflict(
            f"opportunity {deal_id} has billable lines in {row['currency']}, so its currency cannot go back",
            reason="undo-currency-has-lines",
            details={"deal": deal_id},
        )
    if values.get("external_ref") is not None:
        check_ref_free(uow.conn, values["external_ref"], deal_id)  # taken by another deal since
    if "stage" in values:
        _refuse_removed_stage(uow.conn, deal_id, values["stage"])
        values["stage_changed_at"] = _stage_changed_at(uow.conn, row, events[0]["id"], values)
    if values or changes:
        write_deal(uow, row, values, changes, action="undo", note=note)


def _refuse_removed_stage(conn: Connection, deal_id: int, stage: str) -> None:
    """A deal cannot go back to a stage removed since: say so, rather than let the database refuse."""
    if conn.execute(select(st.c.key).where(st.c.key == stage)).first() is None:
        raise Conflict(
            f"deal {deal_id} was in stage {stage}, which no longer exists",
            hint=f"add the stage {stage} again, then undo",
            reason="stage-removed",
            details={"stage": stage},
        )


def _has_live_lines(conn: Connection, deal_id: int) -> bool:
    live = select(bl.c.id).where(bl.c.opportunity_id == deal_id, bl.c.removed_at.is_(None)).limit(1)
    return conn.execute(live).first() is not None


def _line_row(uow: UnitOfWork, deal_id: int, line: int) -> RowMapping | None:
    return (
        uow.conn.execute(select(bl).where(bl.c.opportunity_id == deal_id, bl.c.line == line))
        .mappings()
        .first()
    )


def _remove_line(uow: UnitOfWork, deal_id: int, line: int, note: str) -> None:
    """Undo adding a line: it is marked removed, like `bill remove` does, so its number stays taken."""
    found = _line_row(uow, deal_id, line)
    if found is None or found["removed_at"] is not None:
        return  # removed since, by the same user (a later command, itself undone)
    if found["invoice_number"] is not None:
        raise Conflict(f"opportunity {deal_id}: line {line} is on invoice {found['invoice_number']} now")
    uow.conn.execute(update(bl).where(bl.c.id == found["id"]).values(removed_at=uow.at))
    uow.record(deal_id, "undo", field="line", old=str(line), note=f"{note}: removed {found['description']}")


def _bring_back_line(uow: UnitOfWork, deal_id: int, line: int, note: str) -> None:
    """Undo removing a line: it counts again, with the amounts it had."""
    found = _line_row(uow, deal_id, line)
    if found is None or found["removed_at"] is None:
        return
    uow.conn.execute(update(bl).where(bl.c.id == found["id"]).values(removed_at=None))
    uow.record(deal_id, "undo", field="line", new=str(line), note=f"{note}: restored {found['description']}")


def _stage_changed_at(
    conn: Connection, row: RowMapping, first_event: int, values: dict[str, Any]
) -> datetime:
    """When the restored stage was entered: the last earlier stage event, else the deal's start."""
    earlier = conn.execute(
        select(h.c.at)
        .where(h.c.opportunity_id == row["id"], h.c.field == "stage", h.c.id < first_event)
        .order_by(h.c.id.desc())
        .limit(1)
    ).scalar()
    if earlier is not None:
        return earlier  # type: ignore[no-any-return]
    closed = values.get("closed_at", row["closed_at"])
    return closed or row["created_at"]  # type: ignore[no-any-return]
