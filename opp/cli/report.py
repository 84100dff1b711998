"""The report command: pipeline performance figures and the deals that need attention."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opp.cli import complete, state
from opp.cli.options import FormatOpt
from opp.cli.render import RECORD_FORMATS, Column, Format, emit, format_names

#: The options each report takes besides --format; any other option given is refused (exit 2).
ACCEPTS = {
    "win-rate": ("--by", "--period", "--assignee"),
    "deal-size": ("--by", "--period", "--assignee", "--currency"),
    "cycle": ("--by", "--period", "--assignee"),
    "conversion": ("--period", "--assignee"),
    "lost-reasons": ("--by", "--period", "--assignee"),
    "stuck": ("--days", "--assignee", "--limit", "--fail-if-any"),
    "overdue": ("--assignee", "--limit", "--fail-if-any"),
    "accuracy": ("--period", "--assignee", "--currency"),
    "calibration": ("--by", "--period", "--assignee"),
    "services": ("--period",),
}
LISTS = ("stuck", "overdue")
CHECK_FOUND_SOMETHING = 6

FIGURE_COLUMNS = {
    "win-rate": [Column("won", "won"), Column("lost", "lost"), Column("win rate", "win_rate")],
    "deal-size": [
        Column("cur", "currency"),
        Column("count", "count"),
        Column("average", "average"),
        Column("median", "median"),
        Column("min", "min"),
        Column("max", "max"),
    ],
    "cycle": [
        Column("count", "count"),
        Column("average days", "average_days"),
        Column("median days", "median_days"),
    ],
    "lost-reasons": [Column("reason", "reason", 50), Column("count", "count")],
    "services": [
        Column("service", "service"),
        Column("name", "name", 40),
        Column("cur", "currency"),
        Column("lines", "lines"),
        Column("quantity", "quantity"),
        Column("revenue", "revenue"),
    ],
}
ACCURACY_COLUMNS = [
    Column("assignee", "key"),
    Column("expected", "expected_count"),
    Column("value", "expected_value"),
    Column("forecast", "forecast"),
    Column("won #", "won_count"),
    Column("won", "won"),
    Column("difference", "difference"),
    Column("won/forecast", "ratio"),
]
CALIBRATION_COLUMNS = [
    Column("band %", "band"),
    Column("count", "count"),
    Column("won", "won"),
    Column("expected", "expected"),
    Column("win rate", "win_rate"),
    Column("gap", "gap"),
]
CONVERSION_COLUMNS = [
    Column("stage", "stage"),
    Column("reached", "reached"),
    Column("advanced", "advanced"),
    Column("rate", "rate"),
]


def _refuse_options(name: str, given: dict[str, bool]) -> None:
    from opp.core.errors import Invalid

    for flag, present in given.items():
        if present and flag not in ACCEPTS[name]:
            raise Invalid(
                f"{flag} does not apply to report {name}",
                hint=f"report {name} takes " + (", ".join(ACCEPTS[name]) or "no options") + " and --format",
            )


def report(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="win-rate, deal-size, cycle, conversion, lost-reasons, stuck, overdue, services, "
            "accuracy or calibration.",
        ),
    ],
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="GROUP",
            help="Rows per assignee, month or quarter (the month/quarter the deal closed in, UTC): "
            "win-rate, deal-size, cycle, lost-reasons; calibration takes --by stage.",
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            metavar="P",
            help="Deals closed in 2026Q4, 2026-11, this-year ... (conversion: deals created in it; "
            "services: invoices issued in it).",
        ),
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option(
            "--assignee",
            metavar="H",
            help="Only deals assigned to this user now.",
            autocompletion=complete.complete_user,
        ),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option("--currency", metavar="C", help="deal-size: report in this currency (as forecast)."),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            metavar="N",
            help="stuck: open deals whose stage last changed more than N days ago (default 30; "
            "counted from the last stage change, or creation if never moved).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", metavar="N", help="stuck, overdue: only the first N (the longest stuck, most overdue)."
        ),
    ] = None,
    fail_if_any: Annotated[
        bool,
        typer.Option(
            "--fail-if-any", help="stuck, overdue: exit 6 when the list is not empty (cron alerts)."
        ),
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Pipeline reports. Closed-deal reports date a deal by its closed_at (--period, --by month|quarter).

    \b
    win-rate      won, lost and won / (won + lost) of the deals closed, 0-1 rounded
                  to 4 decimals, null when none closed
    deal-size     count, average, median, min and max value of the deals won, in one
                  currency (--currency, else reporting_currency, else the deals' own),
                  each deal converted at the rate on its close date; average and median
                  rounded half up to the currency's minor unit
    cycle         count, average_days and median_days from created to closed of the
                  deals won: elapsed days (24 h) to 1 decimal
    conversion    per open stage in order: reached = deals ever in that stage (created
                  there or moved there, from history; a forced skip does not reach the
                  stages it skipped), advanced = of those, deals ever in a later open
                  stage or closed-won (even if they moved back later), rate = advanced /
                  reached to 4 decimals
    lost-reasons  deals lost per lost_reason, most frequent first (null: no reason)
    stuck         open deals whose stage last changed more than --days N days ago
                  (exactly N days is not stuck), longest stuck first
    overdue       open deals whose expected close is before today, most overdue first
    accuracy      --period P (required): the forecast as it stood at the start of the
                  period (open deals then expected to close in it) against the deals
                  won in it, per assignee and in total, both rebuilt from history
    calibration   closed deals: the probability each carried when it left each open
                  stage, per band of 20 points, against the share of them won
                  (--by stage: per stage)
    services      quantity and revenue (before tax) per service and currency of the
                  invoiced lines; --period keeps the invoices issued in it (issue date)

    stuck and overdue print the same records as opp list (--limit N: the first N);
    with --fail-if-any they exit 6 after printing a non-empty list, 0 for an empty one.
    """
    from opp.core.analytics import reports
    from opp.core.errors import Invalid

    wanted = reports.parse_report_name(name)
    _refuse_options(
        wanted,
        {
            "--by": by is not None,
            "--period": period is not None,
            "--assignee": assignee is not None,
            "--currency": currency is not None,
            "--days": days is not None,
            "--limit": limit is not None,
            "--fail-if-any": fail_if_any,
        },
    )
    if fmt is Format.ids and wanted not in LISTS:
        raise Invalid(
            f"--format ids applies only to the stuck and overdue lists, not {wanted}",
            hint=f"report {wanted} prints {format_names(RECORD_FORMATS)}",
        )
    ctx = state.context()

    if wanted in LISTS:
        # --format ids reads only the ids: no record is built for a deal whose id alone is printed.
        ids_only = fmt is Format.ids
        found: Any
        if wanted == "stuck":
            stuck = reports.stuck_ids if ids_only else reports.stuck
            found = stuck(
                ctx, days=reports.DEFAULT_STUCK_DAYS if days is None else days, assignee=assignee, limit=limit
            )
        else:
            found = (reports.overdue_ids if ids_only else reports.overdue)(
                ctx, assignee=assignee, limit=limit
            )
        from opp.cli.deals import DEAL_COLUMNS

        listed = emit(found, fmt, columns=DEAL_COLUMNS, empty=f"no {wanted} opportunities")
        if fail_if_any and listed:
            raise typer.Exit(CHECK_FOUND_SOMETHING)
        return
    if wanted == "accuracy":
        _accuracy(ctx, period, assignee, currency, fmt)
        return
    if wanted == "calibration":
        from opp.core.analytics import insight

        bands = insight.calibration(ctx, by=by, period=period, assignee=assignee)
        split = [Column(by.strip().lower(), "key")] if by is not None else []
        emit(bands, fmt, columns=[*split, *CALIBRATION_COLUMNS])
        return
    if wanted == "conversion":
        emit(reports.conversion(ctx, period=period, assignee=assignee), fmt, columns=CONVERSION_COLUMNS)
        return
    if wanted == "services":
        services = reports.services(ctx, period=period)
        emit(services, fmt, columns=FIGURE_COLUMNS[wanted], empty="nothing invoiced")
        return

    scope: dict[str, Any] = {"period": period, "assignee": assignee}
    result: Any
    if wanted == "win-rate":
        result = reports.win_rate(ctx, **scope) if by is None else reports.win_rate_by(ctx, by, **scope)
    elif wanted == "deal-size":
        scope["currency"] = currency
        result = reports.deal_size(ctx, **scope) if by is None else reports.deal_size_by(ctx, by, **scope)
    elif wanted == "cycle":
        result = reports.cycle(ctx, **scope) if by is None else reports.cycle_by(ctx, by, **scope)
    else:
        result = (
            reports.lost_reasons(ctx, **scope) if by is None else reports.lost_reasons_by(ctx, by, **scope)
        )
    columns: list[Column] | None = FIGURE_COLUMNS[wanted]
    if by is not None:
        columns = [Column(by.strip().lower(), "key"), *FIGURE_COLUMNS[wanted]]
    elif not isinstance(result, list):
        columns = None  # one record: a vertical table
    emit(result, fmt, columns=columns, empty="nothing to report")


def _accuracy(ctx: Any, period: str | None, assignee: str | None, currency: str | None, fmt: Format) -> None:
    from opp.core.analytics import reports
    from opp.core.errors import Invalid

    if period is None:
        raise Invalid("report accuracy needs --period", hint="for example --period 2026Q3 or last-quarter")
    result = reports.accuracy(ctx, period=period, assignee=assignee, currency=currency)
    total = {"key": "total", **result.total.as_dict()}
    columns = [*ACCURACY_COLUMNS]
    columns[3] = Column(f"forecast {result.currency}", "forecast")
    emit(result, fmt, rows=[*result.assignees, total], columns=columns)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(report)
