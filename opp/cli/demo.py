"""The demo command: load the example deals into an empty database and show the open pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opp.cli import state
from opp.cli.options import RecordFormatOpt
from opp.cli.render import Format, emit, message

# Shipped inside the package (examples/deals.csv in the source tree links to it), so that the demo
# works wherever opp is installed.
EXAMPLE_DEALS = Path(__file__).resolve().parents[1] / "data" / "deals.csv"
# The demo's rates (rates.csv, beside the deals) convert every currency to this one.
DEMO_REPORTING_CURRENCY = "USD"


def demo(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="CSV of deals to load (default: the example deals shipped with opp, examples/deals.csv).",
        ),
    ] = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Load example deals into an empty database (--db or OPP_DB) and show the open ones by stage.

    A rates.csv beside the deals file is loaded too, and USD becomes the reporting currency unless one
    is set, so that forecasts can add the example's several currencies; so is a quotas.csv (user,
    period, amount, currency), for opp report attainment.
    """
    from opp.cli.deals import DEAL_COLUMNS
    from opp.core import settings
    from opp.core.errors import Invalid
    from opp.core.pipeline import deals, stages
    from opp.core.records import Opportunity
    from opp.core.transfer import demo
    from opp.core.wording import count_of

    path = file if file is not None else EXAMPLE_DEALS
    if file is None and not path.is_file():
        raise Invalid(
            f"the example deals are not at {path}",
            hint="reinstall opp, or give the CSV with --file PATH",
        )
    ctx = state.context()
    summary = demo.load_deals_csv(ctx, path, only_into_empty=True)
    rates_path = path.with_name("rates.csv")
    if rates_path.is_file():
        demo.load_rates_csv(ctx, rates_path)
        if settings.get_setting(ctx, "reporting_currency").value is None:
            settings.set_setting(ctx, "reporting_currency", DEMO_REPORTING_CURRENCY)

    # The work around the deals (people on them, notes, tasks (some overdue) and tickets), when their
    # files are beside the deals.
    def beside(name: str) -> Path | None:
        found = path.with_name(name)
        return found if found.is_file() else None

    work = demo.load_work_csv(
        ctx,
        people=beside("people.csv"),
        notes=beside("notes.csv"),
        tasks=beside("tasks.csv"),
        tickets=beside("tickets.csv"),
    )
    quotas_path = path.with_name("quotas.csv")
    if quotas_path.is_file():
        demo.load_quotas_csv(ctx, quotas_path)
    open_stages = [stage for stage in stages.list_stages(ctx) if stage.is_open]
    by_stage: dict[str, list[Opportunity]] = {stage.key: [] for stage in open_stages}
    for deal in deals.list_deals(ctx, sort="close"):
        by_stage[deal.stage].append(deal)
    if Format(fmt) is Format.table:
        columns = [column for column in DEAL_COLUMNS if column.key != "stage"]
        tables = [
            (f"{stage.name} ({len(by_stage[stage.key])})", by_stage[stage.key], columns)
            for stage in open_stages
        ]
        emit([], fmt, columns=columns, extra_tables=tables)
    else:
        emit([deal for stage in open_stages for deal in by_stage[stage.key]], fmt)
    still_open = sum(map(len, by_stage.values()))
    message(
        f"opp demo: loaded {count_of(summary.created, 'deal')}, "
        f"{count_of(summary.customers_created, 'customer')} and {count_of(summary.users_created, 'user')} "
        f"from {path}; {count_of(still_open, 'deal')} {'is' if still_open == 1 else 'are'} open; "
        f"{count_of(work.contacts, 'contact')} on deals, {count_of(work.notes, 'note')}, "
        f"{count_of(work.tasks, 'task')} and {count_of(work.tickets, 'ticket')} "
        "(try opp list --status all, opp show 1, opp agenda --all, opp timeline 1)"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(demo)
