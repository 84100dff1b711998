"""Transfer commands: ``opp import`` (CSV, JSON, JSONL; upsert by external ref) and ``opp export``."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from opp.cli import complete, errors, state
from opp.cli.options import (
    DealFilters,
    LimitOpt,
    RawOpt,
    WhereOpt,
    deal_filters,
)
from opp.cli.render import Format, emit, message
from opp.core.errors import Invalid

if TYPE_CHECKING:
    from opp.core.transfer.importer import Skipped


class InputFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


# The options a profile may hold, under their long names (without the dashes), and the type of each.
PROFILE_KEYS: dict[str, type] = {
    "map": dict,
    "stage-map": dict,
    "ignore": list,
    "require": list,
    "date-order": str,
    "currency": str,
    "default-customer": str,
    "customer-kind": str,
    "format": str,
    "skip-invalid": bool,
}
_TYPE_WORDS = {dict: "a table", list: "an array of strings", str: "a string", bool: "true or false"}
MAX_SKIPS_SHOWN = 20


def load_profile(path: str) -> dict[str, Any]:
    """An import profile: a TOML file (read with the standard library's tomllib) holding options of
    ``opp import`` under their long names; checked whole, so a typo is exit 2 naming the key."""
    import tomllib

    try:
        with Path(path).expanduser().open("rb") as f:
            profile = tomllib.load(f)
    except FileNotFoundError:
        raise Invalid(f"no such profile: {path}") from None
    except IsADirectoryError:
        raise Invalid(f"the profile {path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise Invalid(f"the profile {path} is not UTF-8 text", hint="save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"the profile {path} is not valid TOML: {exc}", hint="see https://toml.io") from None
    except OSError as exc:
        raise Invalid(f"cannot read the profile {path}: {exc.strerror}") from None
    for key, value in profile.items():
        wanted = PROFILE_KEYS.get(key)
        if wanted is None:
            raise Invalid(
                f"the profile {path} has an unknown key {key!r}",
                hint="a profile may hold " + ", ".join(PROFILE_KEYS),
            )
        if not isinstance(value, wanted) or (
            isinstance(value, dict | list)
            and not all(
                isinstance(item, str) for item in (value.values() if isinstance(value, dict) else value)
            )
        ):
            raise Invalid(f"the profile {path}: {key} must be {_TYPE_WORDS[wanted]}")
    return profile


def _pairs(table: Mapping[str, str]) -> list[str]:
    """A profile's table as the KEY=VALUE items the matching option takes."""
    return [f"{key}={value}" for key, value in table.items()]


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
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            metavar="COLUMN",
            help="Do not read COLUMN, even when it is named as one of opp's (repeatable).",
        ),
    ] = None,
    require: Annotated[
        list[str] | None,
        typer.Option("--require", metavar="FIELD", help="A row without FIELD is a problem row (repeatable)."),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Leave problem rows out (counted as skipped) and import the rest, in one transaction.",
        ),
    ] = False,
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects",
            metavar="FILE",
            help="With --skip-invalid: write the rows left out to FILE as CSV, with their line and error.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Let --rejects replace a file that is there.")
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="FILE",
            help="Read options from a TOML file (map, stage-map, ignore, require, date-order, currency, "
            "default-customer, customer-kind, format, skip-invalid); the command line wins.",
        ),
    ] = None,
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
    """Import deals from a CSV, JSON or JSONL file: a row whose external_ref is known updates that deal,
    as does a row whose id is a deal of this database and whose external_ref is empty.

    Missing customers and users are created. One bad row rejects the whole file (exit 2), naming its
    line and up to 20 bad lines; with --skip-invalid such rows are left out instead. Blank rows are
    passed over and counted. The summary (created, updated, unchanged, customers_created,
    users_created, skipped, blank_rows, probability_adjusted) goes to stdout.
    """
    from opp.core.transfer import importer
    from opp.core.transfer.readers import format_of

    if force and rejects is None:
        raise Invalid("--force applies only with --rejects FILE")
    given: dict[str, Any] = load_profile(profile) if profile is not None else {}
    if input_format is None and "format" in given:
        input_format = InputFormat(format_of("-", given["format"]))
    skip_invalid = skip_invalid or bool(given.get("skip-invalid", False))
    if rejects is not None and not skip_invalid:
        raise Invalid("--rejects lists the rows --skip-invalid leaves out", hint="add --skip-invalid")
    # Tables merge key by key and arrays add up; for everything else the command line wins.
    fields = importer.parse_mapping(_pairs(given.get("map", {})))
    typed = importer.parse_mapping(mapping or [])
    fields.update(typed)
    # A column the command line maps is read, even when the profile ignores it.
    kept = [column for column in given.get("ignore", []) if column.strip().lower() not in typed.values()]
    stages = importer.parse_stage_map(_pairs(given.get("stage-map", {})))
    stages.update(importer.parse_stage_map(stage_map or []))
    order = date_order if date_order is not None else given.get("date-order")
    options = importer.ImportOptions(
        fmt=input_format.value if input_format else None,
        mapping=fields,
        stage_map=stages,
        date_order=order.strip().lower() if order else None,
        currency=currency if currency is not None else given.get("currency"),
        default_customer=default_customer if default_customer is not None else given.get("default-customer"),
        customer_kind=customer_kind if customer_kind is not None else given.get("customer-kind"),
        dry_run=dry_run,
        strip_formula_guard=not raw,
        ignore=importer.parse_columns([*kept, *(ignore or [])], what="--ignore"),
        require=importer.parse_fields([*given.get("require", []), *(require or [])], what="--require"),
        skip_invalid=skip_invalid,
        rejects=Path(rejects) if rejects is not None else None,
        wording=errors.import_error_text,
        force=force,
    )
    source = sys.stdin.buffer if file == "-" else Path(file)
    ctx = state.context()
    bar = ProgressBar("importing")
    shown = 0

    def on_skip(skipped: Skipped) -> None:
        nonlocal shown
        shown += 1
        if shown <= MAX_SKIPS_SHOWN:
            bar.close()
            message(f"opp import: skipped line {skipped.line}: {errors.import_error_text(skipped.error)}")

    try:
        summary = importer.import_deals(ctx, source, options, progress=bar, on_skip=on_skip)
    except importer.ImportRejected as exc:
        bar.close()
        if exc.first is not None and (hint := errors.import_hint(exc.first)) is not None:
            exc.hint = importer.ImportRejected.advised(hint)
        code = errors.report_opp_error(exc, as_json=Format(fmt) is Format.json)
        for problem in exc.problems[1:]:
            sys.stderr.write(f"  {problem}\n")
        if exc.more:
            sys.stderr.write(f"  (only the first {len(exc.problems)} bad lines are listed)\n")
        raise typer.Exit(code) from None
    finally:
        bar.close()
    if shown > MAX_SKIPS_SHOWN:
        where = f"; all of them are in {rejects}" if rejects is not None else ""
        message(f"opp import: … and {shown - MAX_SKIPS_SHOWN} more skipped{where}")
    emit(summary, fmt)
    message("opp import: " + importer.summary_message(summary))
    if summary.columns_not_read:
        message(
            "opp import: columns not read: "
            + ", ".join(summary.columns_not_read)
            + " (map them with --map FIELD=COLUMN, or say --ignore COLUMN to pass over them quietly)"
        )


ExportStatusOpt = Annotated[
    str | None,
    typer.Option("--status", metavar="STATUS", help="open, won, lost or all (default all)."),
]


@deal_filters(status=ExportStatusOpt)
def export(
    filters: DealFilters,
    where: WhereOpt = None,
    limit: LimitOpt = None,
    what: Annotated[
        str,
        typer.Option(
            "--what",
            metavar="WHAT",
            help="deals (default), tasks, tickets or notes.",
            autocompletion=complete.offer(("deals", "tasks", "tickets", "notes")),
        ),
    ] = "deals",
    raw: RawOpt = False,
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", case_sensitive=False, help="csv (default), json or jsonl."),
    ] = ExportFormat.csv,
) -> None:
    """Export deals (every status unless filtered) in the columns opp import reads, in id order;
    --what tasks, tickets or notes exports those instead, every one of them, in id order.

    Takes the filters of opp list. The output streams: a large export is never held in memory.
    """
    from opp.core.transfer import exporter
    from opp.core.transfer.exporter import export_columns, export_deals

    kind = what.strip().lower()
    columns = exporter.what_columns(kind)
    if kind != "deals":
        from opp.core.errors import Invalid

        if filters.given() or limit is not None:
            raise Invalid(f"the deal filters apply to --what deals, not {kind}")
        readers = {
            "tasks": exporter.export_tasks,
            "tickets": exporter.export_tickets,
            "notes": exporter.export_notes,
        }
        emit(readers[kind](state.context()), fmt.value, fields=columns, raw=raw)
        return

    scope = filters.scope(where=where or ())
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
