"""The report command: a subcommand per report of the registry (:mod:`opp.core.analytics.registry`).

Each report's name, help, options and columns are declared there once; this module only types the
options for the command line and lays the result out by the report's shape. The registry is light, so
``opp report --help`` and ``opp report <TAB>`` load no database code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from opp.cli import complete, state
from opp.cli.compat import TyperCommand, TyperGroup, unknown_option_name
from opp.cli.options import FormatOpt
from opp.cli.render import RECORD_FORMATS, UNSET_GROUP, Column, Format, emit, format_names
from opp.core.analytics import registry
from opp.core.analytics.registry import Report, Shape

CHECK_FOUND_SOMETHING = 6

#: How each report option is read from the command line: its type, metavar and completion.
PARAMETERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "by": (str | None, {"metavar": "GROUP"}),
    "period": (str | None, {"metavar": "P"}),
    "assignee": (str | None, {"metavar": "H", "autocompletion": complete.complete_user}),
    "currency": (str | None, {"metavar": "C"}),
    "days": (int | None, {"metavar": "N"}),
    "limit": (int | None, {"metavar": "N"}),
    "fail_if_any": (bool, {}),
    "from_day": (str | None, {"metavar": "D0"}),
    "to_day": (str | None, {"metavar": "D1"}),
    "measure": (str | None, {"metavar": "MEASURE"}),
    "detail": (bool, {}),
    "min": (int | None, {"metavar": "N"}),
    "status": (str | None, {"metavar": "STATUS"}),
    "since": (str | None, {"metavar": "DATE"}),
    "hourly_cost": (str | None, {"metavar": "N"}),
    "where": (list[str] | None, {"metavar": "COND", "autocompletion": complete.complete_where}),
}
#: Every option some report takes: given to a report that does not take it, it is refused by name.
REPORT_FLAGS = frozenset(flag for report in registry.REPORTS for flag in report.flags)


class ReportGroup(TyperGroup):
    """The reports in the registry's order; a report's name is read in any case, an unknown one is
    refused naming the reports."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(registry.NAMES)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and not ctx.resilient_parsing:
            args = [registry.find(args[0]).name, *args[1:]]
        return super().resolve_command(ctx, args)


class ReportCommand(TyperCommand):
    """A report: an option another report takes is refused as not applying to this one."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as exc:
            flag = unknown_option_name(exc)
            if flag not in REPORT_FLAGS or ctx.resilient_parsing:
                raise
            from opp.core.errors import Invalid

            report = registry.find(self.name or "")
            raise Invalid(
                f"{flag} does not apply to report {report.name}",
                hint=f"report {report.name} takes "
                + (", ".join(report.flags) or "no options")
                + " and --format",
            ) from None


app = typer.Typer(
    cls=ReportGroup,
    help="Pipeline reports: how the pipeline performs and which deals need attention. Closed-deal "
    "reports date a deal by its closed_at (--period, --by month|quarter); opp report NAME --help "
    "says what each figure means.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _columns(columns: Sequence[registry.Column], **values: str) -> list[Column]:
    return [Column(column.header.format(**values), column.key, column.width) for column in columns]


def table_columns(report: Report) -> list[Column]:
    """The columns of the report's table (a list of deals has those of opp list)."""
    if report.shape is Shape.DEALS:
        from opp.cli.deals import DEAL_COLUMNS

        return DEAL_COLUMNS
    return _columns(report.columns, currency="{currency}")


def run(report: Report, fmt: Format, given: dict[str, Any]) -> None:
    """Compute ``report`` from the options given and print it as its shape lays it out."""
    from opp.core.errors import Invalid

    for option in report.options:
        if option.required and given.get(option.name) is None:
            raise Invalid(
                f"report {report.name} needs {option.flag}",
                hint=f"for example {option.flag} {option.example}",
            )
    if fmt is Format.ids and report.shape is not Shape.DEALS:
        lists = " and ".join(other.name for other in registry.REPORTS if other.shape is Shape.DEALS)
        raise Invalid(
            f"--format ids applies only to the {lists} lists, not {report.name}",
            hint=f"report {report.name} prints {format_names(RECORD_FORMATS)}",
        )
    ctx = state.context()
    if report.shape is Shape.DEALS:
        # --format ids reads only the ids: no record is built for a deal whose id alone is printed.
        found = report.compute(ctx, ids_only=fmt is Format.ids, **given)
        listed = emit(found, fmt, columns=table_columns(report), empty=report.empty)
        if given.get("fail_if_any") and listed:
            raise typer.Exit(CHECK_FOUND_SOMETHING)
        return
    result = report.compute(ctx, **given)
    if report.shape is Shape.WATERFALL:
        emit_waterfall(result, fmt)
        return
    if report.shape is Shape.TOTALLED:
        total = {"key": "total", **result.total.as_dict()}
        rows = [*named_unset(getattr(result, report.rows or ""), fmt), total]
        emit(result, fmt, rows=rows, columns=_columns(report.columns, currency=result.currency))
        return
    by = given.get("by")
    columns: list[Column] | None = table_columns(report)
    if by is not None and report.split_function is not None:
        columns = [Column(by.strip().lower(), "key"), *_columns(report.columns)]
        if fmt is Format.table and isinstance(result, list):
            emit(result, fmt, columns=columns, rows=named_unset(result, fmt), empty=report.empty)
            return
    elif not isinstance(result, list):
        columns = None  # one record: a vertical table
    emit(result, fmt, columns=columns, empty=report.empty)


MOVE_COLUMNS = [
    Column("id", "id"),
    Column("title", "title", 40),
    Column("step", "step"),
    Column("from", "from_value"),
    Column("to", "to_value"),
    Column("change", "change"),
]


def emit_waterfall(result: Any, fmt: Format) -> None:
    """A waterfall: JSON whole; a table or CSV a row for the start, each step and the end (per group
    first, when split). With ``--detail``, the deals that moved."""
    if isinstance(result, list):
        keyed = bool(result) and "key" in result[0].as_dict()
        columns = [Column("key", "key"), *MOVE_COLUMNS] if keyed else MOVE_COLUMNS
        if keyed and fmt is Format.table:  # the group without a value "(none)", as elsewhere
            emit(result, fmt, rows=named_unset(result, fmt), columns=columns, empty="no deal moved")
            return
        emit(result, fmt, columns=columns, empty="no deal moved")
        return
    rows = result.rows()
    columns = [Column("step", "step"), Column("count", "count"), Column(result.currency, "value")]
    if result.groups is not None:
        columns = [Column(result.by, "key"), *columns]
        rows = named_unset(rows, fmt)  # the group without a value "(none)" in a table, as elsewhere
    emit(result, fmt, rows=rows, columns=columns)


def named_unset(records: Sequence[Any], fmt: Format) -> list[Any]:
    """Rows split by a key, the group without one (no assignee) named "(none)" in a table, as the
    forecast names it; JSON and CSV keep null and an empty cell. The review's table names its
    attainment rows the same way."""
    if fmt is not Format.table:
        return list(records)
    rows = [record.as_dict() if hasattr(record, "as_dict") else dict(record) for record in records]
    return [{**row, "key": UNSET_GROUP} if row.get("key") is None else row for row in rows]


def _offer(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def offered(incomplete: str) -> list[str]:
        return [choice for choice in choices if choice.startswith(incomplete)]

    return offered


def cli_text(text: str) -> str:
    """A report's help as the command line says it: ``{option:days}`` is ``--days`` and
    ``{command:list}`` is ``opp list`` (the registry, in the core, names no flag itself)."""
    import re

    text = re.sub(r"\{option:([a-z][a-z-]*)\}", r"--\1", text)
    return re.sub(r"\{command:([a-z][a-z -]*)\}", r"opp \1", text)


def command(report: Report) -> Callable[..., None]:
    """The command of one report: its options as keyword parameters Typer reads, then --format."""

    def report_command(**given: Any) -> None:
        fmt = given.pop("fmt")
        run(report, fmt, given)

    parameters = []
    for option in report.options:
        kind, settings = PARAMETERS[option.name]
        if option.fields:
            settings = {**settings, "autocompletion": complete.complete_group(option.choices)}
        elif option.choices:
            settings = {**settings, "autocompletion": _offer(option.choices)}
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[kind, typer.Option(option.flag, help=cli_text(option.help), **settings)],
                default=False if kind is bool else None,
            )
        )
    parameters.append(
        inspect.Parameter("fmt", inspect.Parameter.KEYWORD_ONLY, annotation=FormatOpt, default=Format.table)
    )
    report_command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    report_command.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    report_command.__doc__ = cli_text(report.help)
    return report_command


for _report in registry.REPORTS:
    app.command(_report.name, cls=ReportCommand, short_help=cli_text(_report.summary))(command(_report))


def register(root: typer.Typer) -> None:
    """Add this module's commands to the app."""
    root.add_typer(app, name="report")
