"""Transfer commands: ``opp import`` (CSV, JSON, JSONL; upsert by external ref) and ``opp export``."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from opp.cli import complete, errors, state
from opp.cli.options import (
    AssigneeOpt,
    CustomerOpt,
    FromOpt,
    LimitOpt,
    OverdueOpt,
    PeriodOpt,
    RawOpt,
    SearchOpt,
    StagesOpt,
    ToOpt,
    UnassignedOpt,
    WhereOpt,
)
from opp.cli.render import Format, emit, message


class InputFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal (never into a pipe)."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.drawn = False
        self.last = 0.0

    def __call__(self, count: int, fraction: float | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.drawn and now - self.last < 0.1 and fraction != 1.0:
            return
        self.last = now
        if fraction is None:
            line = f"{self.label}: {count:,} rows"
        else:
            filled = int(min(fraction, 1.0) * self.WIDTH)
            line = (
                f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} {count:,} rows"
            )
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


def import_(
    file: Annotated[
        str, typer.Argument(metavar="FILE|-", help="The file to import; '-' reads standard input.")
    ],
    input_format: Annotated[
        InputFormat | None,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="The file's format: csv, json or jsonl (default: from the extension; csv for stdin).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file and report what would change; change nothing.")
    ] = False,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FIELD=COLUMN",
            help="Read FIELD from the file's COLUMN (repeatable; one column may feed several fields).",
        ),
    ] = None,
    stage_map: Annotated[
        list[str] | None,
        typer.Option(
            "--stage-map", metavar="VALUE=STAGE", help="Read the stage VALUE as STAGE (repeatable)."
        ),
    ] = None,
    date_order: Annotated[
        str | None,
        typer.Option(
            "--date-order", metavar="mdy|dmy|ymd", help="How to read numeric dates such as 3/1/2017."
        ),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", metavar="C", help="Currency of rows that give none.")
    ] = None,
    default_customer: Annotated[
        str | None,
        typer.Option(
            "--default-customer",
            metavar="NAME",
            help="Customer of rows that give none.",
            autocompletion=complete.complete_customer,
        ),
    ] = None,
    customer_kind: Annotated[
        str | None,
        typer.Option(
            "--customer-kind",
            metavar="KIND",
            help="organization or individual: the kind of customers created.",
        ),
    ] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="Keep a leading ' before = + - @ in CSV cells (no guard to strip).")
    ] = False,
    fmt: Annotated[
        Format,
        typer.Option(
            "--output-format",
            "-o",
            envvar="OPP_FORMAT",
            case_sensitive=False,
            help="Format of the summary: table, json, jsonl or csv.",
        ),
    ] = Format.table,
) -> None:
    """Import deals from a CSV, JSON or JSONL file: a row whose external_ref is known updates that deal.

    Missing customers and users are created. One bad row rejects the whole file (exit 2), naming its
    line and up to 20 bad lines. The summary (created, updated, unchanged, customers_created,
    users_created) goes to stdout.
    """
    from opp.core.transfer import importer

    options = importer.ImportOptions(
        fmt=input_format.value if input_format else None,
        mapping=importer.parse_mapping(mapping or []),
        stage_map=importer.parse_stage_map(stage_map or []),
        date_order=date_order.strip().lower() if date_order else None,
        currency=currency,
        default_customer=default_customer,
        customer_kind=customer_kind,
        dry_run=dry_run,
        strip_formula_guard=not raw,
    )
    source = sys.stdin.buffer if file == "-" else Path(file)
    ctx = state.context()
    bar = ProgressBar("importing")
    try:
        summary = importer.import_deals(ctx, source, options, progress=bar)
    except importer.ImportRejected as exc:
        bar.close()
        code = errors.report_opp_error(exc, as_json=Format(fmt) is Format.json)
        for problem in exc.problems[1:]:
            sys.stderr.write(f"  {problem}\n")
        if exc.more:
            sys.stderr.write(f"  (only the first {len(exc.problems)} bad lines are listed)\n")
        raise typer.Exit(code) from None
    finally:
        bar.close()
    emit(summary, fmt)
    message(importer.summary_message(summary))


def export(
    stage: StagesOpt = None,
    status: Annotated[
        str | None,
        typer.Option("--status", metavar="STATUS", help="open, won, lost or all (default all)."),
    ] = None,
    assignee: AssigneeOpt = None,
    unassigned: UnassignedOpt = False,
    customer: CustomerOpt = None,
    period: PeriodOpt = None,
    close_from: FromOpt = None,
    close_to: ToOpt = None,
    search: SearchOpt = None,
    overdue: OverdueOpt = False,
    where: WhereOpt = None,
    limit: LimitOpt = None,
    raw: RawOpt = False,
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", case_sensitive=False, help="csv (default), json or jsonl."),
    ] = ExportFormat.csv,
) -> None:
    """Export deals (every status unless filtered) in the columns opp import reads, in id order.

    Takes the filters of opp list. The output streams: a large export is never held in memory.
    """
    from opp.core.pipeline.scope import Scope
    from opp.core.transfer.exporter import export_columns, export_deals

    scope = Scope(
        stages=stage or (),
        status=status,
        assignee=assignee,
        unassigned=unassigned,
        customer=customer,
        period=period,
        close_from=close_from,
        close_to=close_to,
        search=search,
        overdue=overdue,
        where=where or (),
    )
    bar = ProgressBar("exporting")
    try:
        ctx = state.context()
        records = export_deals(ctx, scope, progress=bar, limit=limit)
        emit(records, fmt.value, fields=export_columns(ctx), raw=raw)
    finally:
        bar.close()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("import")(import_)
    app.command()(export)
