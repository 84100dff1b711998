"""The reports opp offers, each defined once: its name, what it says, the options it takes, its columns
and the function that computes it.

The functions are named by their dotted path and imported only when a report runs, so that this module
stays light: ``opp --help``, ``opp report <TAB>`` and the completion scripts read the names, options and
help from here without loading the database layer. A new report is one :class:`Report` in
:data:`REPORTS`; the command line, its help and its completion follow from it.

The core names no command-line flag: where a report's help refers to one of its options or to a
command, it writes ``{option:NAME}`` or ``{command:NAME}``, and the command line spells them
(``--days``, ``opp list``) with :func:`opp.cli.report.cli_text`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opp.core.errors import Invalid

#: Days without a stage change after which an open deal is stuck, unless asked otherwise.
DEFAULT_STUCK_DAYS = 30
#: What the reports of closed deals are split by (``by``): the assignee, or when the deal closed (UTC).
GROUPINGS = ("assignee", "month", "quarter")


class Shape(StrEnum):
    """What a report's result is, which says how it is laid out as a table."""

    #: One record of figures, or a list of records; with ``by``, one row per group, its key first.
    FIGURES = "figures"
    #: Deals, the same records ``opp list`` prints; with ``ids`` only their ids are read.
    DEALS = "deals"
    #: Rows per assignee and a total (``total``), money in the result's ``currency``.
    TOTALLED = "totalled"
    #: A waterfall: start, its steps and end (per group when split); with ``detail`` one row per deal.
    WATERFALL = "waterfall"


@dataclass(frozen=True)
class Option:
    """An option a report takes: the function's keyword of the same name (``fail_if_any``:
    ``--fail-if-any``), what it means for this report, and whether the report needs it."""

    name: str
    help: str
    required: bool = False
    #: An example of a value, for the hint when a required option is missing.
    example: str | None = None
    #: Whether the function takes it; otherwise it tells how to present the result.
    computes: bool = True
    #: The values it takes, when they are a few words (offered by shell completion).
    choices: tuple[str, ...] = ()
    #: Whether it also takes a custom field's name (a ``by`` that groups by a field's values).
    fields: bool = False
    #: The flag's name, when it is not the parameter's (``from_day``: ``from``, as ``from`` is a Python
    #: keyword); the command line spells it ``--from``.
    long: str | None = None

    @property
    def flag(self) -> str:
        return "--" + (self.long or self.name.replace("_", "-"))


@dataclass(frozen=True)
class Column:
    """A column of the report's table: its header and the record key it shows."""

    header: str
    key: str
    width: int | None = None


@dataclass(frozen=True)
class Report:
    name: str
    #: One line, for the list of reports.
    summary: str
    #: What every figure means, for the report's own help.
    help: str
    #: ``module:function`` taking the context and the options by name.
    function: str
    options: tuple[Option, ...] = ()
    columns: tuple[Column, ...] = ()
    shape: Shape = Shape.FIGURES
    #: ``module:function`` giving the rows per group when ``by`` is given (``function`` gives one record).
    split_function: str | None = None
    #: ``module:function`` giving only the deals' ids (:attr:`Shape.DEALS`).
    ids_function: str | None = None
    #: What is said (on stderr) when the report has no rows.
    empty: str | None = None
    #: :attr:`Shape.TOTALLED`: the result's attribute holding the rows (its ``total`` follows them).
    rows: str | None = None

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(option.flag for option in self.options)

    def option(self, name: str) -> Option | None:
        return next((option for option in self.options if option.name == name), None)

    def compute(self, ctx: Any, *, ids_only: bool = False, **options: Any) -> Any:
        """The report's result from the options given (every option of the report, None when not given).

        ``ids_only`` reads only the ids of a list of deals, without building a record of each.
        """
        given = {option.name: options.get(option.name) for option in self.options if option.computes}
        path = self.function
        if ids_only and self.ids_function is not None:
            path = self.ids_function
        elif self.split_function is not None:
            if given.get("by") is not None:
                path = self.split_function
            else:
                given.pop("by", None)
        return _function(path)(ctx, **given)


def _function(path: str) -> Callable[..., Any]:
    module, name = path.split(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return found


# -- the options ----------------------------------------------------------------------------------------

_REPORTS_MODULE = "opp.core.analytics.reports"

_ASSIGNEE = Option("assignee", "Only deals assigned to this user now.")
_CLOSED_IN = Option("period", "Deals closed in 2026Q4, 2026-11, this-year ...")
_CLOSED_BY = Option(
    "by",
    "Rows per assignee, month or quarter (the month/quarter the deal closed in, UTC), or per value of "
    "a custom field.",
    choices=GROUPINGS,
    fields=True,
)
_LIMIT = Option("limit", "Only the first N (the longest stuck, most overdue).")
_FAIL_IF_ANY = Option("fail_if_any", "Exit 6 when the list is not empty (cron alerts).", computes=False)
_REPORTING_CURRENCY = Option("currency", "Report in this currency (as forecast).")
_ASSIGNEE_THEN = Option("assignee", "Only deals assigned to this user (at the end, else at the start).")
_WHERE = Option(
    "where",
    "Only deals whose custom field holds: NAME=V, NAME!=V (unset included), NAME>=V ... (repeatable).",
)


REPORTS: tuple[Report, ...] = (
    Report(
        "win-rate",
        "Won, lost and the win rate of the deals closed.",
        "Won, lost and won / (won + lost) of the deals closed, 0-1 rounded to 4 decimals, null when "
        "none closed. A deal is dated by its closed_at.",
        function=f"{_REPORTS_MODULE}:win_rate",
        split_function=f"{_REPORTS_MODULE}:win_rate_by",
        options=(_CLOSED_BY, _CLOSED_IN, _ASSIGNEE, _WHERE),
        columns=(Column("won", "won"), Column("lost", "lost"), Column("win rate", "win_rate")),
        empty="nothing to report",
    ),
    Report(
        "deal-size",
        "Count, average, median, min and max value of the deals won.",
        "Count, average, median, min and max value of the deals won, in one currency ({option:currency}, "
        "else reporting_currency, else the deals' own), each deal converted at the rate on its close "
        "date; average and median rounded half up to the currency's minor unit.",
        function=f"{_REPORTS_MODULE}:deal_size",
        split_function=f"{_REPORTS_MODULE}:deal_size_by",
        options=(_CLOSED_BY, _CLOSED_IN, _ASSIGNEE, _REPORTING_CURRENCY, _WHERE),
        columns=(
            Column("cur", "currency"),
            Column("count", "count"),
            Column("average", "average"),
            Column("median", "median"),
            Column("min", "min"),
            Column("max", "max"),
        ),
        empty="nothing to report",
    ),
    Report(
        "cycle",
        "Days from created to closed of the deals won.",
        "Count, average_days and median_days from created to closed of the deals won: elapsed days "
        "(24 h) to 1 decimal.",
        function=f"{_REPORTS_MODULE}:cycle",
        split_function=f"{_REPORTS_MODULE}:cycle_by",
        options=(_CLOSED_BY, _CLOSED_IN, _ASSIGNEE, _WHERE),
        columns=(
            Column("count", "count"),
            Column("average days", "average_days"),
            Column("median days", "median_days"),
        ),
        empty="nothing to report",
    ),
    Report(
        "conversion",
        "Per open stage: the deals that reached it and the share that went on.",
        "Per open stage in order: reached = deals ever in that stage (created there or moved there, "
        "from history; a forced skip does not reach the stages it skipped), advanced = of those, deals "
        "ever in a later open stage or closed-won (even if they moved back later), rate = advanced / "
        "reached to 4 decimals.",
        f"{_REPORTS_MODULE}:conversion",
        options=(Option("period", "Deals created in 2026Q4, 2026-11, this-year ..."), _ASSIGNEE, _WHERE),
        columns=(
            Column("stage", "stage"),
            Column("reached", "reached"),
            Column("advanced", "advanced"),
            Column("rate", "rate"),
        ),
    ),
    Report(
        "lost-reasons",
        "Deals lost per lost_reason, most frequent first.",
        "Deals lost per lost_reason, most frequent first (null: no reason).",
        function=f"{_REPORTS_MODULE}:lost_reasons",
        split_function=f"{_REPORTS_MODULE}:lost_reasons_by",
        options=(_CLOSED_BY, _CLOSED_IN, _ASSIGNEE, _WHERE),
        columns=(Column("reason", "reason", 50), Column("count", "count")),
        empty="nothing to report",
    ),
    Report(
        "stuck",
        "Open deals whose stage last changed more than {option:days} N days ago.",
        "Open deals whose stage last changed more than {option:days} N days ago (exactly N days is not "
        "stuck), longest stuck first (the same records as {command:list}). With {option:fail-if-any} it "
        "exits 6 "
        "after printing a non-empty list, 0 for an empty one.",
        f"{_REPORTS_MODULE}:stuck",
        options=(
            Option(
                "days",
                f"Open deals whose stage last changed more than N days ago (default {DEFAULT_STUCK_DAYS}; "
                "counted from the last stage change, or creation if never moved).",
            ),
            _ASSIGNEE,
            _WHERE,
            _LIMIT,
            _FAIL_IF_ANY,
        ),
        shape=Shape.DEALS,
        ids_function=f"{_REPORTS_MODULE}:stuck_ids",
        empty="no stuck opportunities",
    ),
    Report(
        "overdue",
        "Open deals whose expected close is before today.",
        "Open deals whose expected close is before today, most overdue first (the same records as "
        "{command:list}). With {option:fail-if-any} it exits 6 after printing a non-empty list, 0 for an "
        "empty one.",
        f"{_REPORTS_MODULE}:overdue",
        options=(_ASSIGNEE, _WHERE, _LIMIT, _FAIL_IF_ANY),
        shape=Shape.DEALS,
        ids_function=f"{_REPORTS_MODULE}:overdue_ids",
        empty="no overdue opportunities",
    ),
    Report(
        "services",
        "Quantity and revenue per service of the invoiced lines.",
        "Quantity and revenue (before tax) per service and currency of the invoiced lines; {option:period} "
        "keeps the invoices issued in it (issue date), {option:where} the lines of the deals whose custom "
        "fields hold.",
        f"{_REPORTS_MODULE}:services",
        options=(Option("period", "Invoices issued in 2026Q4, 2026-11, this-year ..."), _WHERE),
        columns=(
            Column("service", "service"),
            Column("name", "name", 40),
            Column("cur", "currency"),
            Column("lines", "lines"),
            Column("quantity", "quantity"),
            Column("revenue", "revenue"),
        ),
        empty="nothing invoiced",
    ),
    Report(
        "accuracy",
        "The forecast made at the start of a period against what was won in it.",
        "The forecast as it stood at the start of the period (open deals then expected to close in "
        "it) against the deals won in it, per assignee and in total, both rebuilt from history.",
        f"{_REPORTS_MODULE}:accuracy",
        options=(
            Option(
                "period",
                "The period forecast and won (required): 2026Q3, 2026-11, last-quarter ...",
                required=True,
                example="2026Q3 or last-quarter",
            ),
            _ASSIGNEE,
            _REPORTING_CURRENCY,
            Option(
                "where",
                "Only deals whose custom field holds (as it stood at the start, for the forecast, and at "
                "the end, for the deals won): NAME=V, NAME!=V, NAME>=V ... (repeatable).",
            ),
        ),
        columns=(
            Column("assignee", "key"),
            Column("expected", "expected_count"),
            Column("value", "expected_value"),
            Column("forecast {currency}", "forecast"),
            Column("won #", "won_count"),
            Column("won", "won"),
            Column("difference", "difference"),
            Column("won/forecast", "ratio"),
        ),
        shape=Shape.TOTALLED,
        rows="assignees",
    ),
    Report(
        "support",
        "Support tickets, hours and their cost beside the value won, per deal or customer.",
        "Per won deal closed in the period ({option:by} deal, the default), per customer "
        "({option:by} customer, which "
        "also counts the tickets filed on the customer alone, opened in the period), or per value of a "
        "custom field ({option:by} region; a customer field counts its customers' own tickets too): "
        "won_value in the "
        "reporting currency (converted as forecasts are), tickets, hours logged, cost = hours x the "
        "hourly cost ({option:hourly-cost}, else the support_hourly_cost setting; null when neither) rounded "
        "half up to the minor unit, and cost_ratio = cost / won_value rounded half up to 4 decimals.",
        "opp.core.work.support:support",
        options=(
            Option(
                "by",
                "deal (default) or customer, or a custom field's name.",
                choices=("deal", "customer"),
                fields=True,
            ),
            _CLOSED_IN,
            _REPORTING_CURRENCY,
            Option("hourly_cost", "Cost of an hour of support, in the reporting currency."),
            _WHERE,
        ),
        columns=(
            Column("key", "key"),
            Column("name", "name", 40),
            Column("cur", "currency"),
            Column("won", "won_value"),
            Column("tickets", "tickets"),
            Column("hours", "hours"),
            Column("cost", "cost"),
            Column("cost ratio", "cost_ratio"),
        ),
        empty="no won deals to report on",
    ),
    Report(
        "attainment",
        "Each user's quota for a period against what they won and have open in it.",
        "Per user with a quota for exactly the period or with deals in it, and in total: quota; won = "
        "value of the deals won with closed_at in the period; attainment = won / quota; gap = max(quota "
        "- won, 0); open_value and open_forecast of the open deals expected to close in it; coverage = "
        "open_value / gap; pace = attainment / (days of the period elapsed up to and including today / "
        "days in it). Ratios rounded half up to 4 decimals, null where a divisor is 0 or missing or the "
        "period has not started. Quotas convert at the rate on the period's last day.",
        "opp.core.analytics.attainment:attainment_report",
        options=(
            Option(
                "period",
                "The month, quarter or year (required): 2026Q4, 2026-11, this-quarter ...",
                required=True,
                example="2026Q4 or this-quarter",
            ),
            _ASSIGNEE,
            _REPORTING_CURRENCY,
            Option(
                "where",
                "Only deals whose custom field holds: NAME=V, NAME!=V, NAME>=V ... (repeatable); quotas "
                "stay whole.",
            ),
        ),
        columns=(
            Column("user", "key"),
            Column("quota {currency}", "quota"),
            Column("won", "won"),
            Column("attainment", "attainment"),
            Column("gap", "gap"),
            Column("open value", "open_value"),
            Column("open forecast", "open_forecast"),
            Column("coverage", "coverage"),
            Column("pace", "pace"),
        ),
        shape=Shape.TOTALLED,
        rows="rows",
    ),
    Report(
        "calibration",
        "How often deals were won against the probability they carried.",
        "Closed deals: the probability each carried when it left each open stage, per band of 20 "
        "points, against the share of them won ({option:by} stage: per stage).",
        "opp.core.analytics.calibration:calibration",
        options=(
            Option("by", "stage: the bands of each stage.", choices=("stage",)),
            _CLOSED_IN,
            _ASSIGNEE,
            _WHERE,
        ),
        columns=(
            Column("band %", "band"),
            Column("count", "count"),
            Column("won", "won"),
            Column("expected", "expected"),
            Column("win rate", "win_rate"),
            Column("gap", "gap"),
        ),
    ),
    Report(
        "waterfall",
        "How the open pipeline of a close-date window changed between two days, step by step.",
        "Start = the open deals at the end of day {option:from} (as {option:as-of} sees them) whose "
        "close date falls in {option:period} (every open deal without it); end = the same at the end "
        "of {option:to} (default today). "
        "Each deal lands in one step: increased or decreased (in both), won, lost, pushed (close date "
        "moved out of the period) or removed (only at the start), created, pulled-in or reopened (only "
        "at the end). Step values are signed and start + the steps = end exactly; each deal is "
        "converted at the rate in force on its close date in that state. {option:by} splits by the group a "
        "deal is in at the end (at the start, if it left); {option:detail} lists the deals that moved.",
        "opp.core.analytics.waterfall:waterfall",
        options=(
            Option(
                "from_day",
                "The day the waterfall starts from (its end, UTC): 2026-03-02, -7d ...",
                required=True,
                example="2026-03-02",
                long="from",
            ),
            Option("to_day", "The day it ends at (its end, UTC); default today.", long="to"),
            Option("period", "Only deals whose close date falls in 2026Q2, this-quarter ..."),
            Option("measure", "value (default) or forecast.", choices=("value", "forecast")),
            Option(
                "by",
                "Split by assignee or stage, or by the value of a custom field.",
                choices=("assignee", "stage"),
                fields=True,
            ),
            _REPORTING_CURRENCY,
            _ASSIGNEE_THEN,
            Option(
                "where",
                "Only deals whose custom field holds (at the end, else at the start): NAME=V, NAME!=V, "
                "NAME>=V ... (repeatable).",
            ),
            Option("detail", "One row per deal that moved: its step, from and to values and change."),
        ),
        columns=(
            Column("step", "step"),
            Column("count", "count"),
            Column("{currency}", "value"),
        ),
        shape=Shape.WATERFALL,
    ),
    Report(
        "pushes",
        "Deals whose expected close was moved later, most pushes first.",
        "Deals with the number of times their expected close was moved to a later date (pushes), the "
        "days those moves added (slip_days), the first expected close ever recorded (first_close) and "
        "the expected close now, most pushes first (then most days slipped), read from history. "
        "{option:since} counts only the moves made from that day on.",
        "opp.core.analytics.pushes:pushes",
        options=(
            Option("period", "Only deals whose close date now falls in 2026Q2, this-quarter ..."),
            Option("min", "Only deals pushed at least N times (default 1)."),
            Option("status", "open (default) or all.", choices=("open", "all")),
            Option("since", "Count only the pushes made from this day on (UTC)."),
            _ASSIGNEE,
            _WHERE,
            _LIMIT,
        ),
        columns=(
            Column("id", "id"),
            Column("title", "title", 40),
            Column("assignee", "assignee"),
            Column("stage", "stage"),
            Column("pushes", "pushes"),
            Column("slip days", "slip_days"),
            Column("first close", "first_close"),
            Column("expected close", "expected_close"),
        ),
        empty="no pushed deals",
    ),
)

NAMES: tuple[str, ...] = tuple(report.name for report in REPORTS)
_BY_NAME = {report.name: report for report in REPORTS}


def find(text: str) -> Report:
    """The report of this name (any case, surrounding spaces ignored)."""
    found = _BY_NAME.get(text.strip().lower())
    if found is None:
        raise Invalid(f"unknown report {text!r}", hint="reports are " + ", ".join(NAMES))
    return found
