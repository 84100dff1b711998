"""Behaviour of opp.core.dates: the date, period and instant forms users may type."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opp.core.dates import (
    Period,
    day_end_exclusive,
    format_date,
    format_instant,
    month_of,
    parse_date,
    parse_instant,
    parse_period,
    quarter_of,
    start_of_day_utc,
)
from opp.core.errors import Invalid

TODAY = date(2026, 3, 10)


def assert_invalid(exc: pytest.ExceptionInfo[Invalid], text: str) -> None:
    """Every refusal quotes what was typed, is one lower-case line, and says what to do instead."""
    assert repr(text) in exc.value.message
    assert "\n" not in exc.value.message
    assert exc.value.message[0].islower()
    assert exc.value.hint


# --- parse_date: accepted forms -------------------------------------------------------------


def test_iso_date_is_read_as_year_month_day() -> None:
    assert parse_date("2026-12-31", TODAY) == date(2026, 12, 31)


def test_iso_date_with_single_digit_month_and_day_is_accepted() -> None:
    assert parse_date("2026-1-5", TODAY) == date(2026, 1, 5)


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_date("  2026-12-31\t", TODAY) == date(2026, 12, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", date(2026, 3, 10)),
        ("TODAY", date(2026, 3, 10)),
        ("tomorrow", date(2026, 3, 11)),
        ("Yesterday", date(2026, 3, 9)),
        (" today ", date(2026, 3, 10)),
    ],
)
def test_day_keywords_are_relative_to_today_and_case_insensitive(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


def test_tomorrow_crosses_year_end() -> None:
    assert parse_date("tomorrow", date(2026, 12, 31)) == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+14d", date(2026, 3, 24)),
        ("-14d", date(2026, 2, 24)),
        ("+0d", date(2026, 3, 10)),
        ("+2w", date(2026, 3, 24)),
        ("-2W", date(2026, 2, 24)),
        ("+3m", date(2026, 6, 10)),
        ("-3m", date(2025, 12, 10)),
        ("+1y", date(2027, 3, 10)),
        ("-1Y", date(2025, 3, 10)),
        ("+12m", date(2027, 3, 10)),
    ],
)
def test_relative_offsets_move_from_today(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        (date(2026, 1, 31), "+1m", date(2026, 2, 28)),
        (date(2028, 1, 31), "+1m", date(2028, 2, 29)),
        (date(2026, 3, 31), "-1m", date(2026, 2, 28)),
        (date(2026, 5, 31), "+1m", date(2026, 6, 30)),
        (date(2028, 2, 29), "+1y", date(2029, 2, 28)),
        (date(2028, 2, 29), "-4y", date(2024, 2, 29)),
    ],
)
def test_month_and_year_offsets_clamp_to_month_end(today: date, text: str, expected: date) -> None:
    assert parse_date(text, today) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 1, 15), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2028, 2, 10), date(2028, 2, 29)),
        (date(2026, 4, 30), date(2026, 4, 30)),
        (date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_eom_is_last_day_of_current_month(today: date, expected: date) -> None:
    assert parse_date("eom", today) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 3, 31), date(2026, 3, 31)),
        (date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 8, 15), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 12, 31)),
        (date(2026, 12, 31), date(2026, 12, 31)),
    ],
)
def test_eoq_is_last_day_of_calendar_quarter(today: date, expected: date) -> None:
    assert parse_date("EOQ", today) == expected


def test_eoy_is_december_31() -> None:
    assert parse_date("eoy", TODAY) == date(2026, 12, 31)


@pytest.mark.parametrize(
    "text",
    [
        "31 Dec 2026",
        "Dec 31, 2026",
        "2026-Dec-31",
        "31 December 2026",
        "december 31 2026",
        "31st of December 2026",
        "31-dec-2026",
        "  DEC 31 2026 ",
    ],
)
def test_spelled_out_month_forms_are_accepted(text: str) -> None:
    assert parse_date(text, TODAY) == date(2026, 12, 31)


def test_spelled_out_month_sept_and_may_are_recognised() -> None:
    assert parse_date("1 Sept 2026", TODAY) == date(2026, 9, 1)
    assert parse_date("May 5, 2026", TODAY) == date(2026, 5, 5)


def test_spelled_out_leap_day_is_accepted_in_leap_year() -> None:
    assert parse_date("29 Feb 2028", TODAY) == date(2028, 2, 29)


# --- parse_date: declared numeric order -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("01/02/2026", "mdy", date(2026, 1, 2)),
        ("01/02/2026", "dmy", date(2026, 2, 1)),
        ("3/1/2017", "mdy", date(2017, 3, 1)),
        ("31.12.2026", "dmy", date(2026, 12, 31)),
        ("31-12-2026", "dmy", date(2026, 12, 31)),
        ("2026/12/31", "ymd", date(2026, 12, 31)),
        ("2026.1.5", "ymd", date(2026, 1, 5)),
    ],
)
def test_numeric_date_is_read_in_declared_order(text: str, order: str, expected: date) -> None:
    assert parse_date(text, TODAY, order=order) == expected


def test_iso_date_wins_over_declared_order() -> None:
    assert parse_date("2026-03-04", TODAY, order="dmy") == date(2026, 3, 4)
    assert parse_date("2026-03-04", TODAY, order="mdy") == date(2026, 3, 4)


def test_declared_order_does_not_affect_keywords() -> None:
    assert parse_date("eom", TODAY, order="dmy") == date(2026, 3, 31)


# --- parse_date: refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["01/02/2026", "3/1/2017", "31.12.2026", "31-12-2026", "2026/12/31", "01/02/26"]
)
def test_ambiguous_numeric_date_is_refused_with_iso_hint(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY)
    assert_invalid(exc, text)
    assert "ambiguous" in exc.value.message
    assert exc.value.hint is not None
    assert "YYYY-MM-DD" in exc.value.hint


@pytest.mark.parametrize(("text", "order"), [("01/02/26", "mdy"), ("31.12.26", "dmy"), ("26/12/31", "ymd")])
def test_two_digit_year_is_refused_even_with_declared_order(text: str, order: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY, order=order)
    assert_invalid(exc, text)
    assert "two-digit year" in exc.value.message


@pytest.mark.parametrize(("text", "order"), [("001/02/2026", "mdy"), ("1/2/20266", "dmy")])
def test_numeric_date_with_wrong_field_widths_is_refused(text: str, order: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY, order=order)
    assert_invalid(exc, text)


def test_unknown_order_is_refused() -> None:
    with pytest.raises(Invalid) as exc:
        parse_date("01/02/2026", TODAY, order="ydm")
    assert_invalid(exc, "ydm")


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("2026-02-30", None),
        ("2026-13-01", None),
        ("2026-00-10", None),
        ("2026-04-31", None),
        ("2027-02-29", None),
        ("0000-01-01", None),
        ("30 Feb 2026", None),
        ("Feb 29, 2027", None),
        ("02/30/2026", "mdy"),
        ("31.04.2026", "dmy"),
    ],
)
def test_nonexistent_date_is_refused_saying_so(text: str, order: str | None) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY, order=order)
    assert_invalid(exc, text)
    assert "does not exist" in exc.value.message


def test_nonexistent_date_hint_gives_month_length() -> None:
    with pytest.raises(Invalid) as exc:
        parse_date("2026-02-30", TODAY)
    assert exc.value.hint is not None
    assert "28 days" in exc.value.hint


@pytest.mark.parametrize(
    "text",
    ["2026-12-31T10:00:00Z", "2026-12-31t10:00", "2026-12-31 10:00:00", "2026-12-31T00:00:00+02:00"],
)
def test_instant_is_not_accepted_as_date(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY)
    assert_invalid(exc, text)
    assert "instant" in exc.value.message


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_date_is_refused(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY)
    assert_invalid(exc, text)


@pytest.mark.parametrize(
    "text",
    [
        "soon",
        "next week",
        "+14",
        "14d",
        "+d",
        "+1.5m",
        "+2x",
        "20261231",
        "2026-12",
        "12/2026",
        "Dec 2026",
        "31 Dec",
        "Dec 31 26",
        "31 Dec 2026 10:00",
        "Thu 31 Dec 2026",
        "31 Dec Jan 2026",
        "31 Dec 2026 2027",
        "Dec 123 2026",
        "31 Dec 2026!",
        "tomorrow please",
    ],
)
def test_unrecognised_date_is_refused_with_forms_hint(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY)
    assert_invalid(exc, text)


@pytest.mark.parametrize("text", ["+99999999y", "+9999999999999d", "-3000y", "+" + "9" * 5000 + "d"])
def test_offset_beyond_calendar_is_refused_as_out_of_range(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_date(text, TODAY)
    assert_invalid(exc, text)
    assert "out of range" in exc.value.message


def test_tomorrow_after_last_representable_day_is_refused() -> None:
    with pytest.raises(Invalid) as exc:
        parse_date("tomorrow", date(9999, 12, 31))
    assert_invalid(exc, "tomorrow")


@pytest.mark.slow
def test_parse_date_does_not_import_dateutil_until_needed() -> None:
    code = (
        "import sys\n"
        "from datetime import date\n"
        "import opp.core.dates as d, opp.core.clock\n"
        "assert not any(m.startswith('dateutil') for m in sys.modules), 'at import'\n"
        "d.parse_date('2026-12-31', date(2026, 1, 1)); d.parse_date('+3d', date(2026, 1, 1))\n"
        "assert not any(m.startswith('dateutil') for m in sys.modules), 'for iso'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# --- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "2026"),
        ("2026Q1", date(2026, 1, 1), date(2026, 3, 31), "2026Q1"),
        ("2026q2", date(2026, 4, 1), date(2026, 6, 30), "2026Q2"),
        ("2026Q3", date(2026, 7, 1), date(2026, 9, 30), "2026Q3"),
        ("2026Q4", date(2026, 10, 1), date(2026, 12, 31), "2026Q4"),
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
        ("2026-2", date(2026, 2, 1), date(2026, 2, 28), "2026-02"),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29), "2028-02"),
        (" 2026-12 ", date(2026, 12, 1), date(2026, 12, 31), "2026-12"),
    ],
)
def test_absolute_periods_have_inclusive_bounds_and_canonical_labels(
    text: str, start: date, end: date, label: str
) -> None:
    period = parse_period(text, TODAY)
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize(
    ("text", "today", "label"),
    [
        ("this-month", date(2026, 3, 10), "2026-03"),
        ("last-month", date(2026, 3, 10), "2026-02"),
        ("next-month", date(2026, 3, 10), "2026-04"),
        ("last-month", date(2026, 1, 1), "2025-12"),
        ("next-month", date(2026, 12, 31), "2027-01"),
        ("this-quarter", date(2026, 3, 31), "2026Q1"),
        ("this-quarter", date(2026, 4, 1), "2026Q2"),
        ("last-quarter", date(2026, 2, 10), "2025Q4"),
        ("next-quarter", date(2026, 11, 10), "2027Q1"),
        ("next-quarter", date(2026, 5, 10), "2026Q3"),
        ("this-year", date(2026, 3, 10), "2026"),
        ("last-year", date(2026, 3, 10), "2025"),
        ("NEXT-YEAR", date(2026, 3, 10), "2027"),
    ],
)
def test_relative_periods_follow_today(text: str, today: date, label: str) -> None:
    assert parse_period(text, today).label == label


@pytest.mark.parametrize(
    "text",
    [
        "",
        "26",
        "20261",
        "2026Q5",
        "2026Q0",
        "2026-13",
        "2026-00",
        "0000",
        "Q4",
        "2026 Q4",
        "this month",
        "this-week",
        "previous-month",
        "2026-11-01",
    ],
)
def test_bad_period_is_refused_with_hint(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_period(text, TODAY)
    assert_invalid(exc, text)


def test_unrecognised_period_hint_lists_the_forms() -> None:
    with pytest.raises(Invalid) as exc:
        parse_period("soon", TODAY)
    assert exc.value.hint is not None
    for form in ("2026Q4", "2026-11", "this-quarter", "last-year"):
        assert form in exc.value.hint


@pytest.mark.parametrize(("text", "today"), [("next-year", date(9999, 6, 1)), ("last-month", date(1, 1, 5))])
def test_relative_period_beyond_calendar_is_refused(text: str, today: date) -> None:
    with pytest.raises(Invalid) as exc:
        parse_period(text, today)
    assert_invalid(exc, text)


def test_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(Invalid):
        Period(date(2026, 2, 1), date(2026, 1, 31))


def test_irregular_period_label_shows_both_bounds() -> None:
    assert Period(date(2026, 1, 5), date(2026, 2, 10)).label == "2026-01-05..2026-02-10"
    assert Period(date(2026, 2, 1), date(2026, 3, 31)).label == "2026-02-01..2026-03-31"


def test_period_contains_days_between_its_bounds_only() -> None:
    period = parse_period("2026Q1", TODAY)
    assert date(2026, 1, 1) in period
    assert date(2026, 3, 31) in period
    assert date(2025, 12, 31) not in period
    assert date(2026, 4, 1) not in period


# --- labels and day bounds ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (date(2026, 1, 1), "2026Q1"),
        (date(2026, 3, 31), "2026Q1"),
        (date(2026, 4, 1), "2026Q2"),
        (date(2026, 6, 30), "2026Q2"),
        (date(2026, 7, 1), "2026Q3"),
        (date(2026, 9, 30), "2026Q3"),
        (date(2026, 10, 1), "2026Q4"),
        (date(2026, 12, 31), "2026Q4"),
    ],
)
def test_quarter_of_respects_quarter_boundaries(day: date, quarter: str) -> None:
    assert quarter_of(day) == quarter


def test_month_of_is_zero_padded() -> None:
    assert month_of(date(2026, 11, 30)) == "2026-11"
    assert month_of(date(2026, 1, 1)) == "2026-01"


def test_day_bounds_are_utc_midnights_with_exclusive_end() -> None:
    assert start_of_day_utc(date(2026, 12, 31)) == datetime(2026, 12, 31, tzinfo=UTC)
    assert day_end_exclusive(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert day_end_exclusive(date(2028, 2, 28)) == datetime(2028, 2, 29, tzinfo=UTC)


def test_day_end_of_last_representable_day_is_its_last_microsecond() -> None:
    # no midnight follows 9999-12-31; its last microsecond still bounds every whole-second instant
    assert day_end_exclusive(date(9999, 12, 31)) == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


# --- instants -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-10T08:30:00Z", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        ("2026-03-10t08:30:00z", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        ("2026-03-10T08:30:00+02:00", datetime(2026, 3, 10, 6, 30, tzinfo=UTC)),
        ("2026-03-10T01:00:00-05:00", datetime(2026, 3, 10, 6, 0, tzinfo=UTC)),
        ("2026-03-10T08:30:00", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        ("2026-03-10 08:30", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        ("2026-03-10", datetime(2026, 3, 10, tzinfo=UTC)),
        ("2026-03-10T08:30:00.250Z", datetime(2026, 3, 10, 8, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_instant_is_read_as_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    ["", "now", "2026-03-10T25:00:00Z", "2026-02-30T00:00:00Z", "10 Mar 2026", "0001-01-01T00:00:00+01:00"],
)
def test_bad_instant_is_refused(text: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_instant(text)
    assert_invalid(exc, text)


def test_format_date_is_iso_and_zero_padded() -> None:
    assert format_date(date(2026, 1, 5)) == "2026-01-05"
    assert format_date(date(987, 6, 5)) == "0987-06-05"


def test_format_instant_converts_to_utc_and_drops_fractions() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_instant(datetime(2026, 3, 10, 8, 30, 5, 999, tzinfo=plus_two)) == "2026-03-10T06:30:05Z"
    assert format_instant(datetime(2026, 3, 10, 8, 30, 5)) == "2026-03-10T08:30:05Z"
    assert format_instant(datetime(2027, 1, 1, 1, 0, tzinfo=plus_two)) == "2026-12-31T23:00:00Z"


# --- properties -----------------------------------------------------------------------------

DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))


@given(DATES)
def test_format_then_parse_date_round_trips(day: date) -> None:
    assert parse_date(format_date(day), TODAY) == day


@given(DATES, st.sampled_from(["mdy", "dmy", "ymd"]), st.sampled_from("/.-"))
def test_numeric_date_in_declared_order_round_trips(day: date, order: str, sep: str) -> None:
    fields = {"y": f"{day.year:04d}", "m": str(day.month), "d": f"{day.day:02d}"}
    text = sep.join(fields[letter] for letter in order)
    assert parse_date(text, TODAY, order=order) == day


@given(DATES)
def test_spelled_out_month_round_trips(day: date) -> None:
    assert parse_date(day.strftime("%d %b ") + str(day.year), TODAY) == day


@given(DATES, st.integers(min_value=-500, max_value=500))
def test_day_offsets_match_timedelta(day: date, days: int) -> None:
    assert parse_date(f"{days:+d}d", day) == day + timedelta(days=days)


@given(DATES, st.integers(min_value=0, max_value=240))
def test_month_offsets_never_overshoot_the_target_month(day: date, months: int) -> None:
    moved = parse_date(f"+{months}m", day)
    index = day.year * 12 + day.month - 1 + months
    assert (moved.year, moved.month) == (index // 12, index % 12 + 1)
    assert moved.day <= day.day


PERIOD_TEXTS = st.one_of(
    st.integers(1900, 2999).map(str),
    st.tuples(st.integers(1900, 2999), st.integers(1, 4)).map(lambda t: f"{t[0]}Q{t[1]}"),
    st.tuples(st.integers(1900, 2999), st.integers(1, 12)).map(lambda t: f"{t[0]}-{t[1]:02d}"),
    st.sampled_from(
        [f"{rel}-{unit}" for rel in ("this", "last", "next") for unit in ("month", "quarter", "year")]
    ),
)


@given(PERIOD_TEXTS, DATES)
def test_period_contains_its_bounds_and_its_label_parses_back(text: str, today: date) -> None:
    period = parse_period(text, today)
    assert period.start <= period.end
    assert period.start in period
    assert period.end in period
    assert parse_period(period.label, today) == period
    assert parse_period(period.label, date(2000, 6, 15)) == period


@given(DATES)
def test_this_periods_contain_today(today: date) -> None:
    for text in ("this-month", "this-quarter", "this-year"):
        assert today in parse_period(text, today)
    assert parse_period("this-month", today).label == month_of(today)
    assert parse_period("this-quarter", today).label == quarter_of(today)
    assert parse_period("this-quarter", today).end == parse_date("eoq", today)


@given(DATES)
def test_day_bounds_span_exactly_one_day(day: date) -> None:
    assert day_end_exclusive(day) - start_of_day_utc(day) == timedelta(days=1)
    assert format_instant(start_of_day_utc(day)) == format_date(day) + "T00:00:00Z"


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)))
def test_format_then_parse_instant_round_trips_to_the_second(moment: datetime) -> None:
    assert parse_instant(format_instant(moment)) == moment.replace(microsecond=0)
