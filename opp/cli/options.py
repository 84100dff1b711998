"""Options shared by many commands, defined once, and the reading of ids from arguments or stdin."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from opp.core.pipeline.scope import Scope

from opp.cli.complete import (
    complete_customer,
    complete_set_deal_field,
    complete_stage,
    complete_user,
    complete_where,
)
from opp.cli.render import CALENDAR_FORMATS, LIST_FORMATS, RECORD_FORMATS, Format, format_names


def format_check(formats: Sequence[Format]) -> Callable[[Format], Format]:
    """Accepts ``--format`` only as one of ``formats``: any other is refused while the command line is
    parsed (exit 2, naming the formats this command prints), before anything is done. (A callback, not
    a parser: options keep their plain coercion, see opp.cli.coercion.)"""

    def check(value: Format) -> Format:
        if value not in formats:
            raise typer.BadParameter(
                f"{str(value)!r} is not a format of this command: it prints {format_names(formats)}"
            )
        return value

    return check


def format_option(formats: Sequence[Format], *names: str, help: str | None = None) -> Any:
    """The ``--format`` option of a command that prints ``formats`` (env OPP_FORMAT)."""
    return typer.Option(
        *(names or ("--format", "-f")),
        envvar="OPP_FORMAT",
        case_sensitive=False,
        metavar="[" + "|".join(formats) + "]",
        callback=format_check(formats),
        help=help or f"Output format: {format_names(formats)}.",
    )


#: The format of a command that prints a list of records: also ``ids``, one a line.
FormatOpt = Annotated[Format, format_option(LIST_FORMATS)]
#: The format of a command that prints a list of dated tasks: also ``ics``, an iCalendar file.
CalendarFormatOpt = Annotated[Format, format_option(CALENDAR_FORMATS)]
#: The format of a command that prints one record or a grouped result (no ``ids``).
RecordFormatOpt = Annotated[Format, format_option(RECORD_FORMATS)]
IdsArg = Annotated[
    list[str],
    typer.Argument(metavar="ID...", help="Opportunity ids; '-' alone reads them from stdin, one per line."),
]
IdArg = Annotated[str, typer.Argument(metavar="ID", help="Opportunity id.")]
ProbabilityOpt = Annotated[
    str | None, typer.Option("--probability", "-p", metavar="P", help="Probability 0-100, optionally with %.")
]


def read_ids(ids: list[str]) -> list[str]:
    """The ids given, or with '-' as the only id, those on stdin (blank lines ignored)."""
    if ids == ["-"]:
        return [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
    if "-" in ids:
        from opp.core.errors import Invalid

        raise Invalid("'-' reads ids from stdin and must be the only id")
    return ids


def comma_list(values: list[str] | None) -> list[str] | None:
    """A repeatable filter option's values with comma-separated lists split: ``--stage lead,proposal``
    is ``--stage lead --stage proposal`` (blank items are left out). Every repeatable filter option
    takes it as its callback."""
    if values is None:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


# The deal filters `list`, `export` and `forecast` share.
StagesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--stage",
        metavar="S",
        help="Only these stages (repeatable, or a comma-separated list).",
        autocompletion=complete_stage,
        callback=comma_list,
    ),
]
StatusOpt = Annotated[
    str | None,
    typer.Option(
        "--status",
        metavar="STATUS",
        help="open, won, lost or all (default open; all when --stage is given).",
    ),
]
SortOpt = Annotated[
    str | None,
    typer.Option("--sort", metavar="FIELD", help="id, value, forecast, close, stage ...; '-value' descends."),
]
AssigneeOpt = Annotated[
    str | None,
    typer.Option(
        "--assignee", metavar="H", help="Only deals assigned to this user.", autocompletion=complete_user
    ),
]
#: A task's or a ticket's new assignee (opp task edit, opp ticket add).
AssignToOpt = Annotated[
    str | None,
    typer.Option("--assign", metavar="H", help="Assign to this user.", autocompletion=complete_user),
]
UnassignedOpt = Annotated[bool, typer.Option("--unassigned", help="Only deals nobody is assigned.")]
CustomerOpt = Annotated[
    str | None,
    typer.Option("--customer", metavar="REF", help="Customer id or name.", autocompletion=complete_customer),
]
PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        metavar="P",
        help="Close date (the day it closed, else the expected close) in 2026, 2026Q4, 2026-11, "
        "this-quarter ...",
    ),
]
FromOpt = Annotated[str | None, typer.Option("--from", metavar="D", help="Close date on or after.")]
ToOpt = Annotated[str | None, typer.Option("--to", metavar="D", help="Close date on or before.")]
SearchOpt = Annotated[
    str | None,
    typer.Option(
        "--search", metavar="TEXT", help="Case-insensitive substring of title, customer or description."
    ),
]
OverdueOpt = Annotated[bool, typer.Option("--overdue", help="Open deals whose expected close has passed.")]


@dataclass(frozen=True)
class DealFilters:
    """The deal filters of ``opp list`` as a command received them (see :func:`deal_filters`)."""

    stage: list[str] | None = None
    status: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    customer: str | None = None
    period: str | None = None
    close_from: str | None = None
    close_to: str | None = None
    search: str | None = None
    overdue: bool = False

    def given(self) -> bool:
        """Whether any filter was given."""
        return any(getattr(self, field.name) not in (None, False) for field in fields(self))

    def scope(self, **more: Any) -> Scope:
        """The deals these filters cover: the one place that turns them into a core scope
        (``more``: the scope's other fields a command adds, ``where``, ``as_of`` ...)."""
        from opp.core.pipeline.scope import Scope

        return Scope(
            stages=self.stage or (),
            status=self.status,
            assignee=self.assignee,
            unassigned=self.unassigned,
            customer=self.customer,
            period=self.period,
            close_from=self.close_from,
            close_to=self.close_to,
            search=self.search,
            overdue=self.overdue,
            **more,
        )


Command = TypeVar("Command", bound=Callable[..., Any])


def deal_filters(status: Any = None) -> Callable[[Command], Command]:
    """Give a command the deal filters of ``opp list``, defined once: its parameter ``filters`` (a
    :class:`DealFilters`) stands for ``--stage --status --assignee --unassigned --customer --period
    --from --to --search --overdue``, in that place among its options. ``status`` replaces the
    ``--status`` option where a command's default differs (``opp export``)."""
    options: list[tuple[str, Any]] = [
        ("stage", StagesOpt),
        ("status", status or StatusOpt),
        ("assignee", AssigneeOpt),
        ("unassigned", UnassignedOpt),
        ("customer", CustomerOpt),
        ("period", PeriodOpt),
        ("close_from", FromOpt),
        ("close_to", ToOpt),
        ("search", SearchOpt),
        ("overdue", OverdueOpt),
    ]
    defaults = {field.name: field.default for field in fields(DealFilters)}
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=defaults[name])
        for name, annotation in options
    ]

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name == "filters":
                parameters.extend(added)
            else:
                parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))

        @functools.wraps(command)
        def run(**given: Any) -> Any:
            chosen = DealFilters(**{name: given.pop(name) for name, _ in options})
            return command(filters=chosen, **given)

        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        del run.__wrapped__  # typer reads the signature above
        return run  # type: ignore[return-value]

    return decorate


# --out and --force of the commands that write a printable document (opp review, opp invoice show):
# see opp.cli.documents.check_out and write_out.
OutOpt = Annotated[
    str | None,
    typer.Option("--out", metavar="FILE", help="With --format md or html: write the document to FILE."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="With --out: replace FILE if it exists.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", metavar="N", help="At most N deals.")]
OffsetOpt = Annotated[
    int | None,
    typer.Option(
        "--offset", metavar="N", help="Skip the first N deals (a next page: --offset 50 --limit 50)."
    ),
]
RawOpt = Annotated[
    bool, typer.Option("--raw", help="In CSV, leave cells starting with = + - @ unguarded (no ' prefix).")
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Answer from the deals as they stood at the end of that day (UTC), rebuilt from history.",
    ),
]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        metavar="COND",
        help="Only deals whose custom field holds: NAME=V, NAME!=V (unset included), and for numbers and "
        "dates NAME>=V, NAME<=V, NAME>V, NAME<V; NAME= is unset (repeatable, all must hold).",
        autocompletion=complete_where,
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="NAME=VALUE",
        help="Set a custom field (repeatable); NAME= clears it. See opp field list.",
        autocompletion=complete_set_deal_field,
    ),
]
