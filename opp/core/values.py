"""What counts as a plain value: kept apart so the renderer can use it without loading the records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

#: The types of values that are plain already, as records hand them out and JSON writes them
#: (checked by exact type first: most fields are one of these).
PLAIN_TYPES = frozenset({str, int, bool, float, Decimal, date, datetime, type(None)})
