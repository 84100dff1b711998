"""``opp undo``: revert your most recent command that changed deals (repeat to go further back)."""

from __future__ import annotations

import typer

from opp.cli import state
from opp.cli.options import RecordFormatOpt
from opp.cli.render import Format, emit, message


def undo(fmt: RecordFormatOpt = Format.table) -> None:
    """Revert the acting user's most recent command not yet undone (repeat to go further back).

    Every field the command changed returns to its earlier value and deals it created are removed;
    the undo is recorded in history. Refused (exit 4) when another user has changed one of those
    deals since, and for invoices.
    """
    from opp.core.dates import format_instant
    from opp.core.pipeline.undo import undo_last
    from opp.core.wording import count_of

    result = undo_last(state.context())
    emit(result, fmt)
    parts = []
    if result.restored:
        parts.append("restored " + ", ".join(map(str, result.restored)))
    if result.removed:
        parts.append("removed " + ", ".join(map(str, result.removed)))
    message(
        f"opp undo: undid {result.name} of {format_instant(result.at)} ({count_of(result.events, 'event')}"
        + (": " + "; ".join(parts) if parts else "")
        + ")"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(undo)
