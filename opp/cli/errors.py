"""The one mapping from failures to exit codes and the one-line ``opp: error: …`` message.

With ``--format json`` (or OPP_FORMAT=json) the error is also written as a JSON object on its own line
on stderr. Tracebacks appear only with OPP_DEBUG=1.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Sequence

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


def report(message: str, *, exit_code: int, hint: str | None = None, as_json: bool = False) -> int:
    """Write the error line (and its JSON form when asked) to stderr; returns the exit code."""
    flat = " ".join(message.split())
    line = f"opp: error: {flat}"
    if hint:
        line += f" (hint: {' '.join(hint.split())})"
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


def import_hint(error: OppError) -> str | None:
    """The hint for a row ``opp import`` refused, where it should name one of import's own options;
    None where the core's hint serves as it is."""
    if isinstance(error, UnknownStage):
        value = error.value.replace("'", "")
        return f"map it to one of opp's stages with --stage-map '{value}=STAGE' ({error.hint})"
    return None


def report_opp_error(error: OppError, *, as_json: bool) -> int:
    return report(error.message, exit_code=exit_code_of(error), hint=error.hint, as_json=as_json)


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
