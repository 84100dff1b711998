"""Reading the references users type: record ids, handles, free text with length limits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from opp.core.errors import Invalid

# The largest id any opp database holds: PostgreSQL's ``integer`` columns stop there (SQLite's go on
# to 2**63 - 1, but ids are handed out from 1 and the two backends answer alike).
MAX_ID = 2**31 - 1
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def parse_id(text: str | int, *, what: str = "opportunity") -> int:
    """A record id: a positive integer, else invalid input."""
    if isinstance(text, int):
        value = text
    else:
        stripped = text.strip()
        if not stripped.isdigit() or not stripped.isascii():
            raise Invalid(f"{what} id must be a positive integer, not {text!r}")
        # Leading zeros dropped first, so that thousands of digits never reach int()'s digit limit.
        significant = stripped.lstrip("0") or "0"
        value = int(significant) if len(significant) <= len(str(MAX_ID)) else MAX_ID + 1
    if value < 1:
        raise Invalid(f"{what} id must be a positive integer, not {text!r}")
    if value > MAX_ID:
        raise Invalid(f"{what} id {str(text).strip()} is too large: ids go up to {MAX_ID}")
    return value


def parse_ids(texts: Iterable[str | int], *, what: str = "opportunity") -> list[int]:
    """Several ids, in the order given, each once; an empty list is invalid input."""
    ids = list(dict.fromkeys(parse_id(t, what=what) for t in texts))
    if not ids:
        raise Invalid(f"no {what} ids given", hint="name one or more ids, or '-' to read them from stdin")
    return ids


def parse_handle(text: str) -> str:
    """A user handle: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit."""
    handle = text.strip()
    if not _HANDLE.match(handle):
        raise Invalid(
            f"invalid user handle {text!r}",
            hint="use 1-64 lower-case letters, digits, '.', '_' or '-', such as dana or j.smith",
        )
    return handle


def handle_key(text: str) -> str:
    """A handle as typed to name an existing user (``--assignee Dana``, ``--as Dana``): handles are
    lower-case, so it is matched case-insensitively."""
    return text.strip().lower()


def clean_text(text: str | None, *, what: str, max_length: int, required: bool = False) -> str | None:
    """Trimmed text within a length limit; empty becomes None unless required."""
    if text is None:
        if required:
            raise Invalid(f"{what} is required")
        return None
    cleaned = text.strip()
    if "\x00" in cleaned:
        raise Invalid(f"{what} holds a NUL character, which text cannot hold")
    if not cleaned:
        if required:
            raise Invalid(f"{what} must not be empty")
        return None
    if len(cleaned) > max_length:
        raise Invalid(f"{what} is {len(cleaned)} characters long; at most {max_length} are allowed")
    return cleaned


def clean_email(text: str | None) -> str | None:
    email = clean_text(text, what="email", max_length=320)
    if email is not None and not _EMAIL.match(email):
        raise Invalid(f"invalid email address {text!r}", hint="for example dana@example.com")
    return email


def aware(instant: datetime | None) -> datetime | None:
    """A stored (naive UTC) instant as an aware UTC datetime."""
    # combine() rather than replace(tzinfo=...): a listing of every deal calls this millions of times.
    return None if instant is None else datetime.combine(instant, instant.time(), UTC)
