"""The one mapping from failures to exit codes and the one-line ``opp: error: …`` message.

With ``--format json`` (or OPP_FORMAT=json) the error is also written as a JSON object on its own line
on stderr. Tracebacks appear only with OPP_DEBUG=1.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from opp.core.errors import Conflict, Invalid, NotFound, OppError, Unavailable, UnknownStage

EXIT_CODES: tuple[tuple[type[OppError], int], ...] = (
    (Invalid, 2),
    (NotFound, 3),
    (Conflict, 4),
    (Unavailable, 5),
)
ERROR_CODES = {1: "internal", 2: "invalid", 3: "not_found", 4: "conflict", 5: "unavailable"}


def exit_code_of(error: OppError) -> int:
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return 1


def wants_json(args: Sequence[str]) -> bool:
    """Whether the command line (or OPP_FORMAT) asks for JSON, even if parsing it failed."""
    fmt = os.environ.get("OPP_FORMAT", "")
    for index, arg in enumerate(args):
        if arg in ("--format", "-f") and index + 1 < len(args):
            fmt = args[index + 1]
        elif arg.startswith("--format="):
            fmt = arg.split("=", 1)[1]
        elif arg.startswith("-f") and len(arg) > 2:
            fmt = arg[2:]
    return fmt.strip().lower() == "json"


def debug_enabled() -> bool:
    return os.environ.get("OPP_DEBUG", "") not in ("", "0")


def failure_text(error: OppError) -> str:
    """A core failure as the command line says it (:func:`cli_wording`), on one line: what ``opp
    browse`` shows for a refused change, word for word the command's message."""
    return error_text(*cli_wording(error))


def error_text(message: str, hint: str | None = None) -> str:
    """A failure as one line, ``MESSAGE (hint: HINT)``: what follows ``opp: error:`` (``opp browse``
    shows it in its status bar)."""
    text = " ".join(message.split())
    if hint:
        text += f" (hint: {' '.join(hint.split())})"
    return text


def report(message: str, *, exit_code: int, hint: str | None = None, as_json: bool = False) -> int:
    """Write the error line (and its JSON form when asked) to stderr; returns the exit code."""
    flat = " ".join(message.split())
    line = f"opp: error: {error_text(message, hint)}"
    sys.stderr.write(line + "\n")
    if as_json:
        payload = {"error": {"code": ERROR_CODES.get(exit_code, "internal"), "message": flat}}
        if hint:
            payload["error"]["hint"] = hint
        sys.stderr.write(json.dumps(payload) + "\n")
    sys.stderr.flush()
    return exit_code


def not_utf8_argument(args: Sequence[str]) -> str | None:
    """The first argument holding bytes that are not UTF-8 (Python hands them over as surrogates)."""
    for arg in args:
        if any("\udc80" <= char <= "\udcff" for char in arg):
            return arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
    return None


def known_failure(exc: BaseException) -> tuple[str, int, str | None] | None:
    """(message, exit code, hint) for failures that are the input's fault, not a bug in opp."""
    if isinstance(exc, UnicodeDecodeError) or (
        isinstance(exc, UnicodeEncodeError) and "surrogates not allowed" in str(exc)
    ):
        return "the input is not UTF-8 text", 2, "save or pipe it as UTF-8"
    return None


# How the command line words the core's failures. The core speaks the domain ("give the value as
# well"); where the way out is a flag or a command, the error carries a ``reason`` and this table gives
# the message and hint that name them, as sqlite-utils adds "Try using --alter" where it catches the
# library's error. Each entry is (message, hint): None keeps the core's own; a text is formatted with
# the error's ``details``; a function gets the details and returns the text.
Words = str | Callable[[dict[str, Any]], str] | None
CLI_WORDS: dict[str, tuple[Words, Words]] = {
    # deals
    "no-deal": (None, "see opp list --status all"),
    "org-or-person": ("give exactly one of --org or --person", "for example --org 'Acme Corp'"),
    "value-needed": (None, "give --value as well"),
    "value-from-billables": ("--value-from-billables goes without --value and --currency", None),
    "reason-only-when-lost": ("--reason applies only to a move to closed-lost", None),
    "changed-meanwhile": (None, "look at opp show {deal} and try again"),
    "held": (None, "ask {holder} to unassign it, or reassign it with opp assign {handle} {deal}"),
    "limit-not-positive": ("--limit must be a positive number, not {value}", None),
    "assignee-and-unassigned": ("give either --assignee or --unassigned, not both", None),
    "period-and-dates": ("give either --period or --from/--to, not both", None),
    "range-reversed": ("--from {start} is after --to {end}", None),
    "sort-needs-reporting-currency": (None, "set one with opp config set reporting_currency C"),
    "several-currencies": (
        None,
        "choose one with --currency, or set one with opp config set reporting_currency C",
    ),
    "cards-not-positive": ("--cards must be a positive number, not {value}", None),
    "days-negative": ("--days must be 0 or more, not {value}", None),
    "days-too-far": ("--days {value} reaches back before the year 1", None),
    "calibration-split": (None, "use --by stage"),
    "invoiced": (None, "an invoiced deal stays; see opp invoice list"),
    # stages
    "already-closed": (None, "reopen it first: opp stage STAGE ID --reopen, then move it to {stage}"),
    "reopen-needed": (None, "to reopen it, run opp stage {stage} ID --reopen"),
    "reopen-first": (None, "reopen it with opp stage STAGE ID --reopen"),
    "reopen-to-change-probability": (
        None,
        "reopen it with opp stage STAGE ID --reopen to change its probability",
    ),
    "skipped-stage-to-win": (None, "move it through {skipped} first, or add --force"),
    "skipped-stage": (None, "move it to {next} first, or add --force"),
    "after-or-before": ("give exactly one of --after or --before", None),
    "stage-in-use": (None, "move them elsewhere first: opp list --stage {stage} -f ids | opp stage OTHER -"),
    # customers and users
    "no-customer": (
        None,
        lambda d: (
            "see opp customer list, or add it with opp customer add "
            + ("--person" if d.get("kind") == "individual" else "--org")
            + " NAME"
        ),
    ),
    "customer-kind": (None, lambda d: "use " + ("--person" if d.get("kind") == "individual" else "--org")),
    "no-user": (None, "see opp user list, or add one with opp user add HANDLE"),
    # undo
    "nothing-to-undo": (None, "undo reverts your own changes to deals; see opp history --actor {actor}"),
    "line-removed": (None, "add it again with opp bill add {deal}"),
    "changed-since": (None, "see opp history {deal}, and change it back by hand if you still want to"),
    "created-has-lines": (None, "see opp bill list {deal}"),
    "created-has-history": (None, "see opp history {deal}"),
    "undo-currency-has-lines": (None, "see opp bill list {deal}"),
    "stage-removed": (None, "add the stage again with opp stages add {stage}, then undo"),
    # billing
    "no-lines": (None, "add some with opp bill add {deal}"),
    "no-line": (None, "see opp bill list {deal}"),
    "no-rate-for-line": (
        None,
        "add one with opp rate set {source} {currency} RATE, or add the line as --item",
    ),
    "line-source": ("give either --service CODE or --item TEXT --price N", None),
    "service-brings-price": ("--price and --tax go with --item; a service brings its own", None),
    "item-needs-price": ("--item needs --price", "for example --item Workshop --price 500"),
    "currency-has-lines": (None, "remove its uninvoiced lines first (see opp bill list {deal})"),
    "no-service": (None, "see opp service list"),
    "price-needed": (None, "give --price as well"),
    "invoice-number-taken": (None, "change it with opp config set invoice_pattern PATTERN"),
    "not-won": (None, "win it first with opp stage won {deal} (from the last open stage, else add --force)"),
    "nothing-to-invoice": (
        None,
        "every line is invoiced already, or there are none: see opp bill list {deal}",
    ),
    "no-invoice": (None, "see opp invoice list"),
    # money
    "no-rate-period": (None, "see opp rate list"),
    "no-rate": (None, "add one with opp rate set {source} {target} RATE --date {day}"),
    # files and databases
    "file-exists": (None, "give a new file name, or --force to replace it"),
    "backup-needs-sqlite": (None, "for PostgreSQL use pg_dump, or opp db copy --to sqlite:///FILE"),
    # import
    "map-syntax": ("--map {item} is not FIELD=COLUMN", "for example --map title=Deal"),
    "map-field": ("--map {item}: unknown field {name}", None),
    "map-twice": ("--map gives the field {name} twice", None),
    "stage-map-syntax": ("--stage-map {item} is not VALUE=STAGE", "for example --stage-map Won=won"),
    "default-customer": ("--default-customer {problem}", None),
    "demo-needs-empty": (None, "use a fresh database, e.g. opp --db demo.db demo"),
    "unknown-column": (None, "columns are {fields}; map other columns with --map FIELD=COLUMN"),
    "map-missing-column": ("line 1: --map {name}={column}: the file has no column {column}", None),
    "title-column": (None, "or map one: --map title=COLUMN"),
    "customer-column": (None, "map one with --map customer=COLUMN, or give --default-customer NAME"),
    "customer-required": (None, "fill it in, or give --default-customer NAME"),
    "ambiguous-date": (None, "say how to read it with --date-order mdy|dmy|ymd, or write YYYY-MM-DD"),
    "unknown-extension": (None, "name it .csv, .json or .jsonl, or give --format csv|json|jsonl"),
    "json-not-array": (None, "for one object a line use --format jsonl"),
    # custom fields
    "no-field": (None, "see opp field list"),
    "field-exists": (None, "see opp field list"),
    "choices-needed": (None, "for example --choices EMEA,APAC,AMER"),
    "choice-needs-choices": (None, "for example opp field add {name} --type choice --choices A,B"),
    "field-in-use": (None, "clear them with --set {name}=, or remove the field and its values with --force"),
    "no-field-set": (None, "the {record} fields: {others}; see opp field list"),
    # forecast categories and quotas
    "closed-category": (None, "win the deal with opp stage won ID; categories to choose are {allowed}"),
    "category-of-closed": (
        None,
        "only an open deal's category can be set; reopen it with opp stage STAGE {deal} --reopen",
    ),
    "no-quota": (None, "see opp quota list"),
    # people, contacts and merges
    "employer-not-organization": (None, "name an organization (see opp customer list --kind organization)"),
    "person-fields": (None, "give them to a person (opp customer add --person NAME --employer ORG)"),
    "customer-changed-since": (
        None,
        "see opp customer show {customer}, and change it back by hand if you still want to",
    ),
    "merge-kinds": (None, "see opp customer dupes"),
    "contact-not-person": (
        None,
        "name an individual, or add one with opp customer add --person NAME --employer ORG",
    ),
    "not-a-contact": (None, "see opp contact list {deal}"),
    # tasks and tickets
    "no-task": (None, "see opp task list --status all"),
    "task-nothing-to-change": (None, "give --title, --due or --assign"),
    "no-ticket": (None, "see opp ticket list --status all"),
    "ticket-time-logged": (None, "see opp ticket show {ticket}"),
    "ticket-status-lone": (None, "set it back with opp ticket status {ticket} STATUS"),
}


def _worded(words: Words, details: dict[str, Any]) -> str | None:
    if words is None:
        return None
    try:
        return words(details) if callable(words) else words.format(**details)
    except (KeyError, IndexError):  # details missing: the core's own words are still true
        return None


def cli_wording(error: OppError) -> tuple[str, str | None]:
    """The message and hint of a core failure as the command line says them (see :data:`CLI_WORDS`)."""
    message, hint = error.message, error.hint
    words = CLI_WORDS.get(error.reason or "")
    if words is not None:
        message = _worded(words[0], error.details) or message
        cli_hint = _worded(words[1], error.details)
        if cli_hint is not None:
            advice = getattr(error, "advice", None)  # an import's "nothing was imported" follows it
            hint = f"{cli_hint}; {advice}" if isinstance(advice, str) else cli_hint
    return message, hint


def import_hint(error: OppError) -> str | None:
    """The hint for a row ``opp import`` refused, where it should name one of import's own options;
    None where the core's hint serves as it is."""
    if isinstance(error, UnknownStage):
        value = error.value.replace("'", "")
        return f"map it to one of opp's stages with --stage-map '{value}=STAGE' ({error.hint})"
    return None


def import_error_text(error: OppError) -> str:
    """A row ``opp import`` left out, as one line (``MESSAGE (hint: HINT)``): what it says on stderr
    and in the rejects file's ``error`` column."""
    return error_text(error.message, import_hint(error) or error.hint)


def report_opp_error(error: OppError, *, as_json: bool) -> int:
    message, hint = cli_wording(error)
    return report(message, exit_code=exit_code_of(error), hint=hint, as_json=as_json)


# Why writing the output may fail (a full disk, a device that takes nothing), as opposed to a bug.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EBADF}
OUTPUT_FAILED_EXIT = 5


def is_output_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the terminal, pipe or file behind stdout refusing what opp writes."""
    if isinstance(exc, UnicodeEncodeError):
        return True
    return isinstance(exc, OSError) and exc.errno in _OUTPUT_ERRNOS


def report_output_failure(exc: BaseException, *, saved: list[str], as_json: bool) -> int:
    """The output could not be written. When the command had already saved its change, say so and
    name what was saved, so that nobody runs it again to "retry" and makes it twice."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, UnicodeEncodeError):
        reason = f"the output's encoding ({exc.encoding}) cannot show {exc.object[exc.start : exc.end]!r}"
    if not saved:
        return report(f"cannot write the output: {reason}", exit_code=OUTPUT_FAILED_EXIT, as_json=as_json)
    what = ", ".join(saved[:-1]) + " and " + saved[-1] if len(saved) > 1 else saved[0]
    return report(
        f"the change was saved ({what}), but its output could not be written: {reason}",
        exit_code=OUTPUT_FAILED_EXIT,
        hint="do not run the command again; see the saved records with opp show or opp list",
        as_json=as_json,
    )
