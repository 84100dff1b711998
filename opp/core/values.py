"""Plain values: what records hand out and the renderer writes. Kept apart from the records so that
the renderer can use it without loading them (their ~20 dataclasses cost start-up time)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: The types of values that are plain already, as records hand them out and JSON writes them
#: (checked by exact type first: most fields are one of these).
PLAIN_TYPES = frozenset({str, int, bool, float, Decimal, date, datetime, type(None)})


def plain(value: Any) -> Any:
    """``value`` as plain dicts, lists and scalars: a record through its ``as_dict`` (whose values
    are plain already), another dataclass field by field, mappings and sequences item by item."""
    if type(value) in PLAIN_TYPES:
        return value
    if type(value) is dict:  # a record's ``fields``: nearly always plain values already
        return {key: item if type(item) in PLAIN_TYPES else plain(item) for key, item in value.items()}
    as_dict = getattr(value, "as_dict", None)
    if as_dict is not None:
        return as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
