"""A deal's close date: its ``closed_at`` day once it is closed, else its expected close.

``--period``, ``--from/--to`` and the month/quarter groups use it in forecast, list, export and the
reports, so a deal won today counts in today's quarter, not in the quarter it was once expected to
close in (contract, forecast). The clock is 2026-03-10 (quarter 2026Q1).
"""

from __future__ import annotations

import csv
import io
import json

import pytest


def deal(opp, *args, title="Deal"):
    """A deal made on 2026-03-01."""
    return opp.json("create", title, "--org", "Initech", *args, OPP_NOW="2026-03-01T09:00:00Z")["id"]


@pytest.fixture
def won_today(opp):
    """Made on 2026-03-01: deal 1 was expected to close in 2026Q3 and was won today (2026-03-10);
    deal 2 is open and expected in 2026Q3; deal 3 is open and expected in 2026Q1; deal 4 was expected
    in 2026Q3 and was lost today."""
    won = deal(opp, "--value", "1000", "--stage", "negotiation", "--close", "2026-08-15", title="Won today")
    opp("stage", "won", won)
    deal(opp, "--value", "200", "--stage", "lead", "--close", "2026-08-20", title="Open later")
    deal(opp, "--value", "300", "--stage", "lead", "--close", "2026-03-20", title="Open soon")
    lost = deal(opp, "--value", "50", "--stage", "lead", "--close", "2026-09-01", title="Lost today")
    opp("stage", "lost", lost)
    return won


def forecast(opp, *args):
    return json.loads(opp("forecast", "-f", "json", *args).stdout, parse_float=str)


def test_a_deal_won_today_counts_in_todays_quarter(won_today, opp):
    result = forecast(opp, "--by", "quarter")
    assert [(g["key"], g["count"], g["value"]) for g in result["groups"]] == [
        ("2026Q1", 2, "1300.00"),  # won today (1000) and open soon (300)
        ("2026Q3", 1, "200.00"),
    ]


def test_a_deal_won_today_counts_in_todays_month(won_today, opp):
    result = forecast(opp, "--by", "month")
    assert [(g["key"], g["count"]) for g in result["groups"]] == [("2026-03", 2), ("2026-08", 1)]


@pytest.mark.parametrize(
    "window",
    [("--period", "2026Q1"), ("--period", "2026-03"), ("--from", "2026-03-10", "--to", "2026-03-31")],
)
def test_period_and_dates_use_the_close_date(won_today, opp, window):
    result = forecast(opp, *window)
    assert result["total"]["count"] == 2
    assert result["total"]["value"] == "1300.00"
    titles = sorted(d["title"] for d in opp.json("list", "--status", "all", *window))
    assert titles == ["Lost today", "Open soon", "Won today"]


def test_the_old_expected_close_no_longer_places_a_closed_deal(won_today, opp):
    assert forecast(opp, "--period", "2026Q3")["total"]["count"] == 1  # open later only
    titles = [d["title"] for d in opp.json("list", "--status", "all", "--period", "2026Q3")]
    assert titles == ["Open later"]


def test_the_close_date_day_is_inclusive_at_both_ends(won_today, opp):
    assert [d["title"] for d in opp.json("list", "--status", "won", "--from", "2026-03-10")] == ["Won today"]
    assert [d["title"] for d in opp.json("list", "--status", "won", "--to", "2026-03-10")] == ["Won today"]
    assert opp.json("list", "--status", "won", "--to", "2026-03-09") == []
    assert opp.json("list", "--status", "won", "--from", "2026-03-11") == []


def test_export_uses_the_close_date(won_today, opp):
    rows = list(csv.DictReader(io.StringIO(opp("export", "--period", "2026Q1").stdout)))
    assert sorted(row["title"] for row in rows) == ["Lost today", "Open soon", "Won today"]


def test_as_of_uses_the_close_date_of_then(won_today, opp):
    # Yesterday, deals 1 and 4 were still open and expected in 2026Q3.
    result = forecast(opp, "--by", "quarter", "--as-of", "2026-03-09")
    assert [(g["key"], g["count"]) for g in result["groups"]] == [("2026Q1", 1), ("2026Q3", 3)]


def test_reports_date_closed_deals_by_their_close_day(won_today, opp):
    assert opp.json("report", "win-rate", "--period", "2026Q1") == {"won": 1, "lost": 1, "win_rate": 0.5}
    assert opp.json("report", "win-rate", "--period", "2026Q3") == {"won": 0, "lost": 0, "win_rate": None}
