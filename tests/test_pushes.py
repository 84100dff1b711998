"""`opp report pushes`: deals whose expected close kept moving later, from history."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Cli

NOW = "2026-03-20T12:00:00Z"
KEYS = ["id", "title", "assignee", "stage", "status", "value", "currency", "pushes", "slip_days",
        "first_close", "expected_close"]  # fmt: skip


def day(n: int) -> str:
    return f"2026-03-{n:02d}T10:00:00Z"


def build(opp: Cli) -> None:
    """1 pushed three times (one move earlier between), 2 pushed once then won, 3 only pulled in,
    4 given its first close date later and pushed once, 5 never moved."""
    opp("user", "add", "sam", OPP_NOW=day(1))
    opp("create", "Thrice", "--org", "Initech", "--close", "2026-03-31", "--assign", "sam", OPP_NOW=day(1))
    opp("create", "Once", "--org", "Initech", "--close", "2026-03-15", OPP_NOW=day(1))
    opp("create", "Earlier", "--org", "Initech", "--close", "2026-04-30", OPP_NOW=day(1))
    opp("create", "No date", "--org", "Initech", OPP_NOW=day(1))
    opp("create", "Still", "--org", "Initech", "--close", "2026-05-01", OPP_NOW=day(1))
    opp("edit", 1, "--close", "2026-04-15", OPP_NOW=day(2))  # +15
    opp("edit", 1, "--close", "2026-04-10", OPP_NOW=day(3))  # earlier: no push
    opp("edit", 1, "--close", "2026-05-10", OPP_NOW=day(5))  # +30
    opp("edit", 1, "--close", "2026-06-30", OPP_NOW=day(12))  # +51
    opp("edit", 2, "--close", "2026-03-25", OPP_NOW=day(4))  # +10
    opp("stage", "won", 2, "--force", OPP_NOW=day(6))
    opp("edit", 3, "--close", "2026-03-31", OPP_NOW=day(4))  # earlier
    opp("edit", 4, "--close", "2026-04-01", OPP_NOW=day(4))  # a first date: no push
    opp("edit", 4, "--close", "2026-04-08", OPP_NOW=day(7))  # +7


@pytest.fixture
def pushed(opp):
    build(opp)
    opp.env["OPP_NOW"] = NOW
    return opp


def report(cli, *args):
    return json.loads(cli("report", "pushes", *args, "--format", "json").stdout, parse_float=str)


def test_most_pushed_first_with_days_slipped_and_the_first_close(pushed):
    rows = report(pushed)
    assert all(list(row) == KEYS for row in rows)
    assert [(r["id"], r["pushes"], r["slip_days"], r["first_close"], r["expected_close"]) for r in rows] == [
        (1, 3, 96, "2026-03-31", "2026-06-30"),
        (4, 1, 7, "2026-04-01", "2026-04-08"),
    ]
    assert rows[0]["assignee"] == "sam" and rows[0]["status"] == "open"


def test_status_all_takes_in_closed_deals(pushed):
    rows = report(pushed, "--status", "all")
    assert [(r["id"], r["pushes"], r["slip_days"], r["status"]) for r in rows] == [
        (1, 3, 96, "open"),
        (2, 1, 10, "won"),
        (4, 1, 7, "open"),
    ]


def test_min_keeps_the_deals_pushed_that_often(pushed):
    assert [r["id"] for r in report(pushed, "--min", "2")] == [1]
    assert report(pushed, "--min", "4") == []
    assert "no pushed deals" in pushed("report", "pushes", "--min", "4").stderr


def test_since_counts_only_the_pushes_from_that_day(pushed):
    rows = report(pushed, "--since", "2026-03-05")
    assert [(r["id"], r["pushes"], r["slip_days"]) for r in rows] == [(1, 2, 81), (4, 1, 7)]


def test_period_and_assignee_narrow_the_deals(pushed):
    assert [r["id"] for r in report(pushed, "--period", "2026-04")] == [4]
    assert [r["id"] for r in report(pushed, "--assignee", "Sam")] == [1]
    assert [r["id"] for r in report(pushed, "--limit", "1")] == [1]


def test_the_table_and_csv(pushed):
    table = pushed("report", "pushes").stdout.splitlines()
    assert table[0].split()[:5] == ["id", "title", "assignee", "stage", "pushes"]
    csv = pushed("report", "pushes", "--format", "csv").stdout.splitlines()
    assert csv[0] == ",".join(KEYS)
    assert len(csv) == 3


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--min", "0"), 2, "1 or more"),
        (("--status", "lost"), 2, "statuses are open, all"),
        (("--since", "2026-02-30"), 2, "2026-02-30"),
        (("--assignee", "nobody"), 3, "no user 'nobody'"),
        (("--period", "someday"), 2, "someday"),
        (("--limit", "0"), 2, "positive"),
    ],
)
def test_bad_input_is_refused_in_one_line(pushed, args, code, words):
    line = pushed.fails(code, "report", "pushes", *args)
    assert words in line, line
