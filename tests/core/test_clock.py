"""Behaviour of opp.core.clock: the pinned or real source of "now"."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opp.core.clock import Clock
from opp.core.errors import Invalid


def test_real_clock_returns_aware_utc_now_without_microseconds() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    now = Clock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert now.microsecond == 0
    assert before <= now <= after


def test_real_clock_today_is_utc_date() -> None:
    clock = Clock()
    assert clock.today() in {datetime.now(UTC).date(), (datetime.now(UTC) - timedelta(seconds=5)).date()}
    assert clock.fixed is None


def test_fixed_clock_always_returns_its_instant() -> None:
    clock = Clock(datetime(2026, 3, 10, 8, 30, tzinfo=UTC))
    assert clock.now() == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
    assert clock.now() == clock.now()
    assert clock.today() == date(2026, 3, 10)


def test_fixed_clock_converts_to_utc_and_drops_microseconds() -> None:
    clock = Clock(datetime(2026, 3, 10, 1, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    assert clock.now().microsecond == 0
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.today() == date(2026, 3, 9)


def test_naive_fixed_instant_is_taken_as_utc() -> None:
    assert Clock(datetime(2026, 3, 10, 8, 30)).now() == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-10T08:30:00Z", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        ("2026-03-10T08:30:00+02:00", datetime(2026, 3, 10, 6, 30, tzinfo=UTC)),
        ("2026-03-10", datetime(2026, 3, 10, tzinfo=UTC)),
        ("2026-03-10T08:30:00", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
        (" 2026-03-10T08:30:00.999Z ", datetime(2026, 3, 10, 8, 30, tzinfo=UTC)),
    ],
)
def test_opp_now_value_pins_the_clock(value: str, expected: datetime) -> None:
    clock = Clock.from_env_value(value)
    assert clock.now() == expected
    assert clock.fixed == expected


def test_opp_now_with_offset_moves_today_to_utc_date() -> None:
    assert Clock.from_env_value("2026-03-10T01:00:00+02:00").today() == date(2026, 3, 9)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_blank_opp_now_gives_real_clock(value: str | None) -> None:
    clock = Clock.from_env_value(value)
    assert clock.fixed is None
    assert clock == Clock()


@pytest.mark.parametrize("value", ["yesterday", "10/03/2026", "2026-03-32", "2026-03-10T08:61:00Z", "now"])
def test_bad_opp_now_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        Clock.from_env_value(value)
    assert "OPP_NOW" in exc.value.message
    assert repr(value) in exc.value.message
    assert exc.value.message[0].islower()
    assert exc.value.hint is not None
    assert "2026-03-10T08:30:00Z" in exc.value.hint


def test_clocks_compare_by_pinned_instant() -> None:
    a = Clock.from_env_value("2026-03-10T08:30:00Z")
    b = Clock(datetime(2026, 3, 10, 10, 30, tzinfo=timezone(timedelta(hours=2))))
    assert a == b
    assert hash(a) == hash(b)
    assert a != Clock()
    assert "2026-03-10" in repr(a)


@pytest.mark.slow
def test_clock_import_does_not_load_dateutil() -> None:
    code = (
        "import sys\n"
        "from opp.core.clock import Clock\n"
        "Clock.from_env_value('2026-03-10T08:30:00Z').today()\n"
        "assert not any(m.startswith('dateutil') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


@given(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30), timezones=st.timezones())
)
def test_fixed_clock_now_is_same_instant_in_utc_to_the_second(moment: datetime) -> None:
    now = Clock(moment).now()
    assert now.utcoffset() == timedelta(0)
    assert now.microsecond == 0
    assert timedelta(0) <= moment - now < timedelta(seconds=1)
    assert Clock(moment).today() == now.date()
