"""The suggest command: an empirical win probability for a deal, shown beside the one it carries."""

from __future__ import annotations

import typer

from opp.cli import state
from opp.cli.options import IdArg, RecordFormatOpt
from opp.cli.render import Column, Format, emit, message

FACTOR_COLUMNS = [
    Column("factor", "factor"),
    Column("value", "value"),
    Column("closed deals", "deals"),
    Column("won", "won"),
    Column("rate", "rate"),
]


def suggest(deal_id: IdArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Suggest a win probability for an open deal from the deals already closed; nothing is changed.

    \b
    The base is the share of closed deals that reached the deal's stage and
    were won; customer kind, assignee and value band refine it (naive Bayes,
    each group smoothed with 5 pseudo-deals so that small groups barely count).
    Apply it yourself with: opp edit ID --probability N
    """
    from opp.core.analytics import suggest as service

    found = service.suggest(state.context(), deal_id)
    emit(found, fmt, extra_tables=[("factors", found.factors, FACTOR_COLUMNS)])
    if found.suggested is None:
        message("no deal has closed yet: nothing to learn from")
    elif found.suggested != found.probability:
        message(f"to apply it: opp edit {found.id} --probability {found.suggested}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(suggest)
