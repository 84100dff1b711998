"""How invoice numbers, payment terms and the issuer block are written, checked when a team sets them.

Kept apart from :mod:`opp.core.billing.invoices` so that the settings can check a pattern without
loading the invoicing (and invoicing reads the settings).
"""

from __future__ import annotations

import re
import string
from datetime import date

from opp.core.errors import Invalid

PLACEHOLDERS = ("year", "month", "seq")
MAX_NUMBER_LENGTH = 40
MAX_WIDTH = 12
# A placeholder's format: decimal digits, optionally zero-padded to a width of at most MAX_WIDTH.
_SPEC = re.compile(r"^0?(\d{1,2})?d$")
_TERM = re.compile(r"^\+\d{1,4}[dwmy]$")


def render_number(pattern: str, issued: date, seq: int) -> str:
    return pattern.format(year=issued.year, month=issued.month, seq=seq)


def placeholders(pattern: str) -> list[tuple[str, str | None, str | None]]:
    """The placeholders of a pattern: (name, format spec, conversion) of each, in order."""
    return [
        (name, spec, conversion)
        for _text, name, spec, conversion in string.Formatter().parse(pattern)
        if name is not None
    ]


def check_pattern(text: str) -> str:
    """A usable ``invoice_pattern``: known placeholders only, ``{seq}`` exactly once, short enough."""
    pattern = text.strip()
    hint = "for example INV-{year}-{seq:04d}; placeholders are {year}, {month} and {seq}"
    try:
        fields = placeholders(pattern)
    except ValueError as exc:
        raise Invalid(f"invoice_pattern {text!r} is not a pattern: {exc}", hint=hint) from exc
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or conversion is not None or "{" in (spec or ""):
            raise Invalid(f"invoice_pattern {text!r}: unknown placeholder {{{name}}}", hint=hint)
        found = _SPEC.match(spec) if spec else None
        if spec and (found is None or int(found.group(1) or 0) > MAX_WIDTH):
            raise Invalid(
                f"invoice_pattern {text!r}: {{{name}:{spec}}} is not a number format",
                hint=f"write {{{name}}} or {{{name}:0Nd}} with a width N of at most {MAX_WIDTH}",
            )
    if [name for name, _spec, _conversion in fields].count("seq") != 1:
        raise Invalid(f"invoice_pattern {text!r} must contain {{seq}} exactly once", hint=hint)
    try:
        longest = max(len(render_number(pattern, date(9999, 12, 31), seq)) for seq in (1, 999_999))
    except (ValueError, TypeError) as exc:
        raise Invalid(f"invoice_pattern {text!r}: {exc}", hint=hint) from exc
    if longest > MAX_NUMBER_LENGTH:
        raise Invalid(
            f"invoice_pattern {text!r} makes numbers longer than {MAX_NUMBER_LENGTH} characters", hint=hint
        )
    if any(not char.isprintable() for char in pattern):
        raise Invalid(f"invoice_pattern {text!r} contains control characters", hint=hint)
    return pattern


def check_term(text: str) -> str:
    """A payment term relative to the issue date: ``+30d``, ``+2w``, ``+1m``."""
    term = text.strip().lower()
    if not _TERM.match(term):
        raise Invalid(
            f"invoice_due must be a term such as +30d, +2w or +1m, not {text!r}",
            hint="a date after the issue date: +N days (d), weeks (w), months (m) or years (y)",
        )
    return term


def check_issuer(text: str) -> str:
    """The issuer block: up to 1000 characters; ``\\n`` (typed as two characters) starts a new line."""
    issuer = text.strip().replace("\\n", "\n")
    if len(issuer) > 1000:
        raise Invalid(f"invoice_issuer is {len(issuer)} characters long; at most 1000 are allowed")
    return issuer
