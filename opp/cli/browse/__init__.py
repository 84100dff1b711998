"""``opp browse``: the pipeline full-screen, for a person at a terminal (scripts keep the commands).

Textual is imported only when the command runs (opp.cli.browse.app), so no other command's start-up
pays for it. The screen calls the core only, through :class:`opp.cli.browse.data.Browser`.
"""

from __future__ import annotations

import sys

import typer

from opp.cli import state
from opp.cli.options import DealFilters, SortOpt, deal_filters


@deal_filters()
def browse(filters: DealFilters, sort: SortOpt = None) -> None:
    """Browse opportunities full-screen: the list (filtered as opp list is), search as you type, a deal's
    overview, billables and activity, the board; keys change deals as the commands do (? shows them)."""
    from opp.core.errors import Invalid

    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        raise Invalid("opp browse needs a terminal", hint="in scripts and pipes use opp list")
    from opp.cli.browse.data import Browser

    scope = filters.scope()
    browser = Browser(state.context(), scope, sort=sort)
    browser.check()  # bad filters are refused (exit 2, 3) before the screen opens
    from opp.cli.browse.app import BrowseApp

    code = BrowseApp(browser).run()
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(browse)
