"""Parsing and formatting of the dates, periods and instants that users type.

Every command that takes a date goes through ``parse_date`` so that one set of forms is accepted
everywhere, and numeric forms whose reading depends on the locale (``01/02/2026``) are refused
rather than guessed. Instants are always aware UTC; dates are calendar days with no time zone.
dateutil is imported only inside the functions that need it, because start-up time matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from opp.core.errors import Invalid

__all__ = [
    "ORDERS",
    "Period",
    "day_end_exclusive",
    "format_date",
    "format_instant",
    "month_of",
    "parse_date",
    "parse_instant",
    "parse_period",
    "quarter_of",
    "start_of_day_utc",
]

#: The values ``parse_date`` accepts for ``order``: how to read numeric dates such as ``01/02/2026``.
ORDERS = ("mdy", "dmy", "ymd")

_DATE_HINT = (
    "use YYYY-MM-DD, today, tomorrow, yesterday, +14d/+2w/+3m/+1y (or -), eom, eoq, eoy, "
    "or a spelled-out month such as 31 Dec 2026"
)
_PERIOD_HINT = (
    "use a year (2026), a quarter (2026Q4), a month (2026-11), "
    "this-month, last-month, next-month, this-quarter, last-quarter, next-quarter, "
    "this-year, last-year or next-year"
)
#: The periods named relative to today (``2026``, ``2026Q4`` and ``2026-11`` name themselves).
PERIOD_WORDS = tuple(
    f"{when}-{unit}" for unit in ("month", "quarter", "year") for when in ("this", "last", "next")
)
_INSTANT_HINT = "use an ISO-8601 instant such as 2026-03-10T08:30:00Z or 2026-03-10T08:30:00+02:00"
_RANGE_HINT = "use a date between 0001-01-01 and 9999-12-31"

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ISO_INSTANT = re.compile(r"\d{4}-\d{1,2}-\d{1,2}[t ]\S.*")
_RELATIVE = re.compile(r"([+-])(\d+)([dwmy])")
_NUMERIC = re.compile(r"(\d+)([/.-])(\d+)\2(\d+)")
_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})q(\d)")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_TOKEN = re.compile(r"(\d+)(st|nd|rd|th)?|([a-z]+)|(\S)")

_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}


def _q(text: str) -> str:
    """Quote user text so the message stays on one line and shows exactly what was typed."""
    return repr(text)


def _month_end(year: int, month: int) -> date:
    """Last day of a month, computed without the calendar module to keep imports light."""
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)


def _make_date(year: int, month: int, day: int, text: str) -> date:
    """Build a date, turning a non-existent one into an Invalid that names the input."""
    try:
        return date(year, month, day)
    except ValueError:
        pass
    if 1 <= year <= 9999 and 1 <= month <= 12:
        days = _month_end(year, month).day
        hint = f"{year:04d}-{month:02d} has {days} days; write the date as YYYY-MM-DD"
    else:
        hint = "check the year, month (1-12) and day; write the date as YYYY-MM-DD"
    raise Invalid(f"date {_q(text)} does not exist", hint=hint)


def parse_date(text: str, today: date, order: str | None = None) -> date:
    """Read a user-typed date relative to ``today``, refusing anything that could be misread.

    ``order`` (``"mdy"``, ``"dmy"`` or ``"ymd"``) is the user's declared reading of numeric dates
    such as ``01/02/2026``; without it those are refused as ambiguous. ISO ``YYYY-MM-DD`` always wins.
    """
    if order is not None and order not in ORDERS:
        raise Invalid(f"unknown date order {_q(order)}", hint="use mdy, dmy or ymd")
    stripped = text.strip()
    if not stripped:
        raise Invalid(f"date {_q(text)} is empty", hint=_DATE_HINT)
    lower = stripped.lower()

    keyword = _keyword_date(lower, today, text)
    if keyword is not None:
        return keyword

    if m := _ISO_DATE.fullmatch(lower):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), text)

    if _ISO_INSTANT.fullmatch(lower):
        raise Invalid(
            f"expected a date, not an instant: {_q(text)}",
            hint="give just the day as YYYY-MM-DD, e.g. " + stripped[:10],
        )

    if m := _RELATIVE.fullmatch(lower):
        return _relative_date(today, m[1], m[2], m[3], text)

    if m := _NUMERIC.fullmatch(lower):
        return _numeric_date((m[1], m[3], m[4]), order, text)

    if any(token in _MONTH_NAMES for token in re.findall(r"[a-z]+", lower)):
        return _textual_date(stripped, text)

    raise Invalid(f"unrecognised date {_q(text)}", hint=_DATE_HINT)


def _keyword_date(lower: str, today: date, text: str) -> date | None:
    """Resolve the named dates (today, eom, ...), or None when ``lower`` is not one of them."""
    try:
        if lower == "today":
            return today
        if lower == "tomorrow":
            return today + timedelta(days=1)
        if lower == "yesterday":
            return today - timedelta(days=1)
    except OverflowError:
        raise Invalid(f"date {_q(text)} is out of range", hint=_RANGE_HINT) from None
    if lower == "eom":
        return _month_end(today.year, today.month)
    if lower == "eoq":
        return _month_end(today.year, _quarter_number(today) * 3)
    if lower == "eoy":
        return date(today.year, 12, 31)
    return None


def _relative_date(today: date, sign: str, digits: str, unit: str, text: str) -> date:
    """Apply ``+3m``-style offsets; months and years clamp to the month end (Jan 31 + 1m = Feb 28)."""
    try:
        signed = -int(digits) if sign == "-" else int(digits)
        if unit == "d":
            return today + timedelta(days=signed)
        if unit == "w":
            return today + timedelta(weeks=signed)
        from dateutil.relativedelta import relativedelta

        if unit == "m":
            return today + relativedelta(months=signed)
        return today + relativedelta(years=signed)
    except (OverflowError, ValueError):
        raise Invalid(f"date {_q(text)} is out of range", hint=_RANGE_HINT) from None


def _numeric_date(parts: tuple[str, str, str], order: str | None, text: str) -> date:
    """Read ``01/02/2026``-style dates only in the order the user declared."""
    if order is None:
        raise Invalid(
            f"ambiguous date {_q(text)}",
            hint="write it as ISO YYYY-MM-DD (e.g. 2026-12-31) or spell the month (31 Dec 2026)",
        )
    fields = dict(zip(order, parts, strict=True))
    year, month, day = fields["y"], fields["m"], fields["d"]
    if len(year) <= 2:
        raise Invalid(
            f"two-digit year in date {_q(text)}",
            hint="write the year in full (2026), or use ISO YYYY-MM-DD",
        )
    if len(year) != 4 or len(month) > 2 or len(day) > 2:
        raise Invalid(
            f"unrecognised date {_q(text)}",
            hint=f"write it in {order} order with a four-digit year, or use ISO YYYY-MM-DD",
        )
    return _make_date(int(year), int(month), int(day), text)


def _textual_date(stripped: str, text: str) -> date:
    """Read a date with a spelled-out month, insisting on a day, a month and a four-digit year.

    dateutil would silently fill a missing day or year from a default, so the tokens are checked
    first and its answer is cross-checked against them.
    """
    from dateutil.parser import parse as dateutil_parse

    incomplete = Invalid(
        f"unrecognised date {_q(text)}",
        hint="give a day, a month name and a four-digit year, e.g. 31 Dec 2026, or use YYYY-MM-DD",
    )
    months: list[int] = []
    years: list[int] = []
    days: list[int] = []
    for number, suffix, word, other in _TOKEN.findall(stripped.lower()):
        if number:
            if len(number) == 4 and not suffix:
                years.append(int(number))
            elif len(number) <= 2:
                days.append(int(number))
            else:
                raise incomplete
        elif word:
            if word in _MONTH_NAMES:
                months.append(_MONTH_NAMES[word])
            elif word != "of":
                raise incomplete
        elif other not in ",./-":
            raise incomplete
    if len(months) != 1 or len(years) != 1 or len(days) != 1:
        raise incomplete
    expected = _make_date(years[0], months[0], days[0], text)
    try:
        parsed = dateutil_parse(stripped, default=datetime(2000, 1, 1))
    except (ValueError, OverflowError):
        raise incomplete from None
    if parsed.date() != expected:
        raise incomplete
    return expected


@dataclass(frozen=True)
class Period:
    """An inclusive run of days that reports and filters work over (a month, quarter or year)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        """Refuse a reversed period so every consumer can trust ``start <= end``."""
        if self.end < self.start:
            raise Invalid(
                f"period {_q(format_date(self.start) + '..' + format_date(self.end))} ends before it starts",
                hint="give the earlier date first",
            )

    @property
    def label(self) -> str:
        """Canonical name (``2026``, ``2026Q4``, ``2026-11``) so reports show one spelling."""
        start, end = self.start, self.end
        if start.day == 1 and end == _month_end(end.year, end.month) and start.year == end.year:
            if start.month == 1 and end.month == 12:
                return f"{start.year:04d}"
            if start.month == end.month:
                return month_of(start)
            if start.month % 3 == 1 and end.month == start.month + 2:
                return quarter_of(start)
        return f"{format_date(start)}..{format_date(end)}"

    def __contains__(self, day: object) -> bool:
        """Let callers write ``d in period`` for the inclusive bounds."""
        if isinstance(day, datetime) or not isinstance(day, date):
            return False
        return self.start <= day <= self.end


def _year_period(year: int, text: str) -> Period:
    """The whole calendar year, or Invalid if it falls outside what dates can hold."""
    if not 1 <= year <= 9999:
        raise Invalid(f"period {_q(text)} is out of range", hint="use a year between 0001 and 9999")
    return Period(date(year, 1, 1), date(year, 12, 31))


def _quarter_period(year: int, quarter: int, text: str) -> Period:
    """Calendar quarter ``quarter`` (1-4) of ``year``."""
    if not 1 <= year <= 9999:
        raise Invalid(f"period {_q(text)} is out of range", hint="use a year between 0001 and 9999")
    first = quarter * 3 - 2
    return Period(date(year, first, 1), _month_end(year, first + 2))


def _month_period(year: int, month: int, text: str) -> Period:
    """Calendar month ``month`` of ``year``."""
    if not 1 <= year <= 9999:
        raise Invalid(f"period {_q(text)} is out of range", hint="use a year between 0001 and 9999")
    return Period(date(year, month, 1), _month_end(year, month))


def _shift_months(year: int, month: int, delta: int) -> tuple[int, int]:
    """Move a (year, month) pair by ``delta`` months across year boundaries."""
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def parse_period(text: str, today: date) -> Period:
    """Read the span a report covers, from an absolute name or one relative to ``today``."""
    lower = text.strip().lower()
    if m := _YEAR.fullmatch(lower):
        return _year_period(int(m[1]), text)
    if m := _QUARTER.fullmatch(lower):
        quarter = int(m[2])
        if not 1 <= quarter <= 4:
            raise Invalid(f"quarter {_q(text)} does not exist", hint="quarters run Q1 to Q4, e.g. 2026Q4")
        return _quarter_period(int(m[1]), quarter, text)
    if m := _MONTH.fullmatch(lower):
        month = int(m[2])
        if not 1 <= month <= 12:
            raise Invalid(f"month {_q(text)} does not exist", hint="months run 01 to 12, e.g. 2026-11")
        return _month_period(int(m[1]), month, text)

    relative, _, unit = lower.partition("-")
    offsets = {"this": 0, "last": -1, "next": 1}
    if relative in offsets:
        delta = offsets[relative]
        if unit == "month":
            year, month = _shift_months(today.year, today.month, delta)
            return _month_period(year, month, text)
        if unit == "quarter":
            year, month = _shift_months(today.year, _quarter_number(today) * 3 - 2, delta * 3)
            return _quarter_period(year, (month + 2) // 3, text)
        if unit == "year":
            return _year_period(today.year + delta, text)
    raise Invalid(f"unrecognised period {_q(text)}", hint=_PERIOD_HINT)


def _quarter_number(d: date) -> int:
    """Calendar quarter (1-4) that ``d`` falls in."""
    return (d.month - 1) // 3 + 1


def quarter_of(d: date) -> str:
    """Canonical quarter label (``2026Q4``) used to group deals by close date."""
    return f"{d.year:04d}Q{_quarter_number(d)}"


def month_of(d: date) -> str:
    """Canonical month label (``2026-11``) used to group deals by close date."""
    return f"{d.year:04d}-{d.month:02d}"


def start_of_day_utc(d: date) -> datetime:
    """Midnight UTC at the start of ``d``: the inclusive lower bound for instants on that day."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def day_end_exclusive(d: date) -> datetime:
    """Midnight UTC after ``d``: the exclusive upper bound, so no instant on that day is missed.

    After the last day a date can hold (9999-12-31) there is no midnight: its last microsecond
    bounds it instead, which still takes in every instant opp stores (whole seconds).
    """
    if d == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return start_of_day_utc(d) + timedelta(days=1)


def parse_instant(text: str) -> datetime:
    """Read an ISO-8601 instant as aware UTC; a naive one or a bare date is taken as UTC.

    Shared by the clock (OPP_NOW) and importers so both accept exactly the same spellings.
    """
    stripped = text.strip()
    if not stripped:
        raise Invalid(f"instant {_q(text)} is empty", hint=_INSTANT_HINT)
    try:
        parsed = datetime.fromisoformat(stripped.upper())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid(f"unrecognised instant {_q(text)}", hint=_INSTANT_HINT) from None


def format_date(d: date) -> str:
    """``YYYY-MM-DD``, the one spelling opp writes, zero-padded even for early years."""
    # date.isoformat pads the year to four digits; called as date's, it writes a datetime's day too.
    return date.isoformat(d)


def format_instant(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC; naive datetimes are taken as already UTC."""
    # Instants are read as aware UTC already: only others are converted (isoformat pads the year).
    utc = dt if dt.tzinfo is None or dt.tzinfo is UTC else dt.astimezone(UTC)
    # Written from its parts (a listing writes a few instants a deal): the same text as
    # utc.isoformat(timespec="seconds")[:19] + "Z", the year padded to four digits.
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 (%-formatting is the fastest here)
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
    )


def close_window(
    period: str | None, close_from: str | None, close_to: str | None, today: date
) -> tuple[date | None, date | None]:
    """The first and last expected-close day that ``--period`` or ``--from``/``--to`` ask for (either
    end may be open), shared by every command that filters deals on their expected close."""
    start = end = None
    if period is not None:
        if close_from is not None or close_to is not None:
            raise Invalid("give either a period or a range of dates, not both", reason="period-and-dates")
        chosen = parse_period(period, today)
        start, end = chosen.start, chosen.end
    if close_from is not None:
        start = parse_date(close_from, today)
    if close_to is not None:
        end = parse_date(close_to, today)
    if start is not None and end is not None and start > end:
        raise Invalid(
            f"the range starts on {format_date(start)}, after its end on {format_date(end)}",
            reason="range-reversed",
            details={"start": format_date(start), "end": format_date(end)},
        )
    return start, end
