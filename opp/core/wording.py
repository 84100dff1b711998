"""Counts in messages for people: "1 event", "2 events", "1 new user"."""

from __future__ import annotations


def count_of(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` with its noun in the right number (``plural`` defaults to ``singular + "s"``)."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
