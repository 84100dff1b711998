"""Time travel: `list`, `forecast` and `pipeline --as-of DATE`, and `report accuracy`, on fixed histories
built through the CLI at known instants, every figure checked against a hand-computed expectation.

Money is read with ``parse_float=str`` so that figures are compared as exact JSON text.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.conftest import BACKEND, Cli

NOW = "2026-03-20T12:00:00Z"


def day(n: int, time: str = "10:00:00") -> str:
    """An instant on day ``n`` of March 2026."""
    return f"2026-03-{n:02d}T{time}Z"


def as_json(cli, *args, **env):
    return json.loads(cli(*args, "--format", "json", **env).stdout, parse_float=str)


def build_history(opp: Cli) -> None:
    """Six deals made and changed on known days of March 2026 (all at 10:00 UTC unless said).

    id  deal     customer   created  initially                         later
    1   Alpha    Initech    day 1    1000 EUR lead 15, dana, 04-15     day 5: value 2000
    2   Delta    Initech    day 1    800 USD proposal 50, dana, 03-31  day 4: assigned sam; day 6: lost
    3   Zeta     Initech    day 1    1000 EUR negotiation 75, sam,     day 6: won
                                     close 06-30
    4   Beta     Initech    day 2    500 USD qualification 30, sam,    day 3: proposal 50; day 4:
                                     close 05-20                       negotiation 75; day 7: won
    5   Epsilon  Pat Smith  day 2    100 USD lead 15, unassigned       day 5: probability 40; day 6:
                                                                       close 04-30; day 8 23:59:59:
                                                                       title "Epsilon 2"; day 9
                                                                       00:00:00: title "Epsilon 3"
    6   Gamma    Pat Smith  day 6    300 USD lead 15, dana             -

    Rates: 1 EUR = 1.10 USD from 2026-01-01, 1.25 USD from 2026-04-01.
    """
    opp("user", "add", "sam", OPP_NOW=day(1, "08:00:00"))
    opp("customer", "add", "--person", "Pat Smith", OPP_NOW=day(1, "08:00:00"))
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01", OPP_NOW=day(1, "08:00:00"))
    opp("rate", "set", "EUR", "USD", "1.25", "--date", "2026-04-01", OPP_NOW=day(1, "08:00:00"))

    def create(title, *args, when, customer=("--org", "Initech")):
        return opp.json("create", title, *customer, *args, OPP_NOW=when)["id"]

    pat = ("--person", "Pat Smith")
    ids = [
        create("Alpha", "--value", "1000", "--currency", "EUR", "--assign", "dana", "--close", "2026-04-15",
               when=day(1)),
        create("Delta", "--value", "800", "--currency", "USD", "--stage", "proposal", "--assign", "dana",
               "--close", "2026-03-31", when=day(1)),
        create("Zeta", "--value", "1000", "--currency", "EUR", "--stage", "negotiation", "--assign", "sam",
               "--close", "2026-06-30", when=day(1)),
        create("Beta", "--value", "500", "--currency", "USD", "--stage", "qualification", "--assign", "sam",
               "--close", "2026-05-20", when=day(2)),
        create("Epsilon", "--value", "100", "--currency", "USD", when=day(2), customer=pat),
    ]  # fmt: skip
    opp("stage", "proposal", 4, OPP_NOW=day(3))
    opp("stage", "negotiation", 4, OPP_NOW=day(4))
    opp("assign", "sam", 2, OPP_NOW=day(4))
    opp("edit", 1, "--value", "2000", OPP_NOW=day(5))
    opp("edit", 5, "--probability", "40", OPP_NOW=day(5))
    opp("stage", "lost", 2, "--reason", "price", OPP_NOW=day(6))
    opp("stage", "won", 3, OPP_NOW=day(6))
    opp("edit", 5, "--close", "2026-04-30", OPP_NOW=day(6))
    ids.append(
        create("Gamma", "--value", "300", "--currency", "USD", "--assign", "dana", when=day(6), customer=pat)
    )
    opp("stage", "won", 4, OPP_NOW=day(7))
    opp("edit", 5, "--title", "Epsilon 2", OPP_NOW=day(8, "23:59:59"))
    opp("edit", 5, "--title", "Epsilon 3", OPP_NOW=day(9, "00:00:00"))
    assert ids == [1, 2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def history_template(databases, seeded):
    def build(db):
        seeded(db).close()
        build_history(Cli(db))

    return databases.template(build)


@pytest.fixture
def shop(cli, restore, history_template):
    restore(history_template)
    cli.env["OPP_NOW"] = NOW
    return cli


def listed(shop, *args):
    """id → (title, value, currency, probability, stage, status, assignee) of the deals listed."""
    return {
        deal["id"]: (
            deal["title"],
            deal["value"],
            deal["currency"],
            deal["probability"],
            deal["stage"],
            deal["status"],
            deal["assignee"],
        )
        for deal in as_json(shop, "list", *args)
    }


# -- list ----------------------------------------------------------------------------------------------


def test_list_as_of_day_4_shows_the_deals_as_they_stood_then(shop):
    assert listed(shop, "--status", "all", "--as-of", "2026-03-04") == {
        1: ("Alpha", "1000.00", "EUR", 15, "lead", "open", "dana"),
        2: ("Delta", "800.00", "USD", 50, "proposal", "open", "sam"),
        3: ("Zeta", "1000.00", "EUR", 75, "negotiation", "open", "sam"),
        4: ("Beta", "500.00", "USD", 75, "negotiation", "open", "sam"),
        5: ("Epsilon", "100.00", "USD", 15, "lead", "open", None),
    }


def test_an_edited_value_shows_the_old_value_the_day_before_and_the_new_one_that_day(shop):
    assert listed(shop, "--as-of", "2026-03-04")[1][1] == "1000.00"
    assert listed(shop, "--as-of", "2026-03-05")[1][1] == "2000.00"
    alpha = as_json(shop, "list", "--as-of", "2026-03-05")[0]
    assert alpha["forecast"] == "300.00"  # 2000 × 15 %
    assert alpha["updated_at"] == "2026-03-05T10:00:00Z"


def test_a_deal_created_on_day_6_is_absent_as_of_day_5(shop):
    assert 6 not in listed(shop, "--status", "all", "--as-of", "2026-03-05")
    assert listed(shop, "--as-of", "2026-03-06")[6] == ("Gamma", "300.00", "USD", 15, "lead", "open", "dana")


def test_a_deal_won_on_day_7_is_open_as_of_day_6(shop):
    assert listed(shop, "--as-of", "2026-03-06")[4] == (
        "Beta",
        "500.00",
        "USD",
        75,
        "negotiation",
        "open",
        "sam",
    )
    won = as_json(shop, "list", "--status", "won", "--as-of", "2026-03-07")
    assert [(deal["id"], deal["probability"], deal["closed_at"]) for deal in won] == [
        (3, 100, "2026-03-06T10:00:00Z"),
        (4, 100, "2026-03-07T10:00:00Z"),
    ]
    assert 4 not in listed(shop, "--status", "won", "--as-of", "2026-03-06")


def test_the_assignee_is_the_one_of_that_day(shop):
    assert sorted(listed(shop, "--assignee", "dana", "--as-of", "2026-03-03")) == [1, 2]
    assert sorted(listed(shop, "--assignee", "dana", "--as-of", "2026-03-04")) == [1]
    assert sorted(listed(shop, "--assignee", "sam", "--as-of", "2026-03-04")) == [2, 3, 4]
    assert sorted(listed(shop, "--unassigned", "--as-of", "2026-03-04")) == [5]


def test_lost_status_reason_and_close_as_of_a_day(shop):
    before = as_json(shop, "list", "--status", "all", "--as-of", "2026-03-05")
    after = as_json(shop, "list", "--status", "all", "--as-of", "2026-03-06")
    delta_before, delta_after = before[1], after[1]
    assert (delta_before["status"], delta_before["lost_reason"], delta_before["closed_at"]) == (
        "open",
        None,
        None,
    )
    assert (delta_after["stage"], delta_after["status"], delta_after["probability"]) == (
        "closed-lost",
        "lost",
        0,
    )
    assert (delta_after["lost_reason"], delta_after["closed_at"]) == ("price", "2026-03-06T10:00:00Z")
    assert (before[4]["expected_close"], after[4]["expected_close"]) == (None, "2026-04-30")


def test_the_end_of_the_day_is_its_last_second_in_utc(shop):
    assert listed(shop, "--as-of", "2026-03-07")[5][0] == "Epsilon"
    assert listed(shop, "--as-of", "2026-03-08")[5][0] == "Epsilon 2"  # edited 23:59:59
    assert listed(shop, "--as-of", "2026-03-09")[5][0] == "Epsilon 3"  # edited 00:00:00 the next day


def test_the_filters_and_sort_apply_to_the_state_of_that_day(shop):
    # Values as of day 4: Alpha 1000 EUR, Delta 800, Zeta 1000 EUR, Beta 500, Epsilon 100 (USD unless
    # said); across currencies a value sorts in the reporting currency (1,100 USD for 1,000 EUR).
    shop("config", "set", "reporting_currency", "USD")
    ids = shop("list", "--as-of", "2026-03-04", "--sort", "-value", "--format", "ids").stdout.split()
    assert ids == ["1", "3", "2", "4", "5"]
    assert listed(shop, "--as-of", "2026-03-04", "--stage", "negotiation").keys() == {3, 4}
    assert listed(shop, "--as-of", "2026-03-04", "--search", "pat smith").keys() == {5}
    assert listed(shop, "--as-of", "2026-03-06", "--period", "2026-04").keys() == {1, 5}
    # Overdue as of a day means an expected close before that day.
    assert listed(shop, "--as-of", "2026-03-05", "--overdue").keys() == set()


def test_before_anything_existed_nothing_is_listed(shop):
    assert as_json(shop, "list", "--status", "all", "--as-of", "2026-02-28") == []


def test_the_current_state_is_what_the_last_day_shows(shop):
    assert as_json(shop, "list", "--status", "all", "--as-of", "2026-03-20") == as_json(
        shop, "list", "--status", "all"
    )


def test_a_bad_as_of_date_is_refused(shop, unchanged):
    check = unchanged()
    assert "2026-02-30" in shop.fails(2, "list", "--as-of", "2026-02-30")
    assert "2026-02-30" in shop.fails(2, "forecast", "--as-of", "2026-02-30")
    assert "2026-02-30" in shop.fails(2, "pipeline", "--as-of", "2026-02-30")
    check()


# -- forecast and pipeline -----------------------------------------------------------------------------


def figures(result):
    return [(g["key"], g["count"], g["value"], g["forecast"]) for g in result["groups"]]


def totals(result):
    total = result["total"]
    return total["count"], total["value"], total["forecast"]


def test_forecast_as_of_day_4_in_usd(shop):
    result = as_json(shop, "forecast", "--currency", "USD", "--as-of", "2026-03-04")
    # Alpha 1000 EUR at the rate on its close 04-15 (1.25): 1250.00, forecast 1000 × 15 % × 1.25 = 187.50;
    # Epsilon 100 × 15 % = 15.00; Delta 800 × 50 % = 400.00; Zeta 1000 EUR on 06-30: 1250.00, 937.50;
    # Beta 500 × 75 % = 375.00.
    assert figures(result) == [
        ("lead", 2, "1350.00", "202.50"),
        ("proposal", 1, "800.00", "400.00"),
        ("negotiation", 2, "1750.00", "1312.50"),
    ]
    assert totals(result) == (5, "3900.00", "1915.00")


def test_forecast_as_of_day_5_has_the_edited_value_and_probability(shop):
    result = as_json(shop, "forecast", "--currency", "USD", "--as-of", "2026-03-05")
    # Alpha 2000 EUR: 2500.00, 375.00; Epsilon at 40 %: 40.00.
    assert figures(result)[0] == ("lead", 2, "2600.00", "415.00")
    assert totals(result) == (5, "5150.00", "2127.50")


def test_forecast_as_of_day_6_converts_a_won_deal_at_its_close_date(shop):
    result = as_json(shop, "forecast", "--currency", "USD", "--as-of", "2026-03-06")
    # Delta lost: left out. Zeta won on 03-06: 1000 EUR at 1.10 = 1100.00 (it was 1250.00 while open).
    # Lead: Alpha 2500.00/375.00, Epsilon 100.00/40.00, Gamma 300.00/45.00.
    assert figures(result) == [
        ("lead", 3, "2900.00", "460.00"),
        ("negotiation", 1, "500.00", "375.00"),
        ("closed-won", 1, "1100.00", "1100.00"),
    ]
    assert totals(result) == (5, "4500.00", "1935.00")


def test_forecast_today_equals_forecast_as_of_the_last_change(shop):
    now = as_json(shop, "forecast", "--currency", "USD")
    assert figures(now) == [("lead", 3, "2900.00", "460.00"), ("closed-won", 2, "1600.00", "1600.00")]
    assert totals(now) == (5, "4500.00", "2060.00")
    assert as_json(shop, "forecast", "--currency", "USD", "--as-of", "2026-03-07") == now


def test_forecast_by_assignee_as_of_a_day(shop):
    day3 = as_json(shop, "forecast", "--currency", "USD", "--by", "assignee", "--as-of", "2026-03-03")
    # Day 3: dana has Alpha (1250.00/187.50) and Delta (800.00/400.00); sam Zeta (1250.00/937.50) and
    # Beta, in proposal at 50 % (500.00/250.00).
    assert figures(day3) == [
        ("dana", 2, "2050.00", "587.50"),
        ("sam", 2, "1750.00", "1187.50"),
        (None, 1, "100.00", "15.00"),
    ]
    day4 = as_json(shop, "forecast", "--currency", "USD", "--by", "assignee", "--as-of", "2026-03-04")
    assert figures(day4) == [
        ("dana", 1, "1250.00", "187.50"),
        ("sam", 3, "2550.00", "1712.50"),
        (None, 1, "100.00", "15.00"),
    ]


def test_forecast_as_of_with_a_period_and_an_assignee(shop):
    # Expected close in April as of day 6: Alpha (04-15) and Epsilon (04-30, set on day 6).
    result = as_json(shop, "forecast", "--currency", "USD", "--period", "2026-04", "--as-of", "2026-03-06")
    assert totals(result) == (2, "2600.00", "415.00")
    result = as_json(shop, "forecast", "--currency", "USD", "--assignee", "sam", "--as-of", "2026-03-03")
    assert totals(result) == (2, "1750.00", "1187.50")


def test_forecast_as_of_a_day_before_any_deal_is_empty(shop):
    assert as_json(shop, "forecast", "--currency", "USD", "--as-of", "2026-02-01") == {
        "currency": "USD",
        "groups": [],
        "total": {"count": 0, "value": "0.00", "forecast": "0.00"},
    }


def test_several_currencies_as_of_a_day_still_need_a_currency(shop):
    assert "several currencies (EUR, USD)" in shop.fails(4, "forecast", "--as-of", "2026-03-04")


def test_one_currency_as_of_a_day_needs_none(shop):
    # The deals in proposal on day 3 are all in USD.
    result = as_json(shop, "forecast", "--stage", "proposal", "--as-of", "2026-03-03")
    assert result["currency"] == "USD"
    assert totals(result) == (2, "1300.00", "650.00")  # Delta 800 and Beta 500, both at 50 %


def test_pipeline_as_of_day_4_and_day_6(shop):
    day4 = as_json(shop, "pipeline", "--currency", "USD", "--as-of", "2026-03-04")
    assert [(s["stage"], s["count"], s["value"], s["forecast"]) for s in day4["stages"]] == [
        ("lead", 2, "1350.00", "202.50"),
        ("qualification", 0, "0.00", "0.00"),
        ("proposal", 1, "800.00", "400.00"),
        ("negotiation", 2, "1750.00", "1312.50"),
    ]
    assert day4["total"] == {"count": 5, "value": "3900.00", "forecast": "1915.00"}
    day6 = as_json(shop, "pipeline", "--currency", "USD", "--as-of", "2026-03-06")
    assert [(s["stage"], s["count"], s["value"], s["forecast"]) for s in day6["stages"]] == [
        ("lead", 3, "2900.00", "460.00"),
        ("qualification", 0, "0.00", "0.00"),
        ("proposal", 0, "0.00", "0.00"),
        ("negotiation", 1, "500.00", "375.00"),
    ]
    assert day6["total"] == {"count": 4, "value": "3400.00", "forecast": "835.00"}


def test_pipeline_as_of_for_an_assignee(shop):
    day3 = as_json(shop, "pipeline", "--currency", "USD", "--assignee", "dana", "--as-of", "2026-03-03")
    assert day3["total"] == {"count": 2, "value": "2050.00", "forecast": "587.50"}


# -- report accuracy -----------------------------------------------------------------------------------


def build_quarter(opp: Cli) -> None:
    """Deals around the third quarter of 2026, all at 09:00 UTC (ids in creation order: C E G A B F D).

    1 EUR = 1.10 USD from 2026-01-01, 1.20 USD from 2026-08-01.

    deal  value      assignee  created        at the start of Q3 (07-01)         during Q3
    A     10000 USD  dana      06-10 proposal open 50 %, close 08-15: 5000.00    won 08-20
    B     4000 EUR   sam       06-15 negot.   open 75 %, close 09-30:            still open
                                              4800.00 USD, forecast 3600.00
    C     2000 USD   sam       05-01 lead     open 15 %, close 07-31: 300.00     to dana 07-15, lost 08-01
    D     3000 EUR   dana      07-05 negot.   did not exist                      won 09-10: 3600.00 USD
    E     1000 USD   sam       06-01 negot.   close 10-15: not expected in Q3    close 09-15 on 07-02,
                                                                                 won 09-20
    F     500 USD    dana      06-20 negot.   already won on 06-25               -
    G     2500 USD   -         06-01 proposal open 50 %, close 08-01: 1250.00    value 3000 on 07-21,
                                                                                 won 08-05
    """
    at = "T09:00:00Z"
    opp("user", "add", "sam")
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    opp("rate", "set", "EUR", "USD", "1.20", "--date", "2026-08-01")

    def create(title, value, currency, stage, close, when, *assign):
        opp("create", title, "--org", "Initech", "--value", value, "--currency", currency, "--stage", stage,
            "--close", close, *assign, OPP_NOW="2026-" + when + at)  # fmt: skip

    create("C", "2000", "USD", "lead", "2026-07-31", "05-01", "--assign", "sam")
    create("E", "1000", "USD", "negotiation", "2026-10-15", "06-01", "--assign", "sam")
    create("G", "2500", "USD", "proposal", "2026-08-01", "06-01")
    create("A", "10000", "USD", "proposal", "2026-08-15", "06-10", "--assign", "dana")
    create("B", "4000", "EUR", "negotiation", "2026-09-30", "06-15", "--assign", "sam")
    create("F", "500", "USD", "negotiation", "2026-09-01", "06-20", "--assign", "dana")
    opp("stage", "won", 6, OPP_NOW="2026-06-25" + at)
    opp("edit", 2, "--close", "2026-09-15", OPP_NOW="2026-07-02" + at)
    create("D", "3000", "EUR", "negotiation", "2026-09-30", "07-05", "--assign", "dana")
    opp("stage", "negotiation", 4, OPP_NOW="2026-07-10" + at)
    opp("assign", "dana", 1, OPP_NOW="2026-07-15" + at)
    opp("stage", "negotiation", 3, OPP_NOW="2026-07-20" + at)
    opp("edit", 3, "--value", "3000", OPP_NOW="2026-07-21" + at)
    opp("stage", "lost", 1, OPP_NOW="2026-08-01" + at)
    opp("stage", "won", 3, OPP_NOW="2026-08-05" + at)
    opp("stage", "won", 4, OPP_NOW="2026-08-20" + at)
    opp("stage", "won", 7, OPP_NOW="2026-09-10" + at)
    opp("stage", "won", 2, OPP_NOW="2026-09-20" + at)


@pytest.fixture
def quarter(opp):
    build_quarter(opp)
    opp.env["OPP_NOW"] = "2026-10-05T12:00:00Z"
    return opp


def accuracy_rows(result):
    return [
        (
            row["key"],
            row["expected_count"],
            row["expected_value"],
            row["forecast"],
            row["won_count"],
            row["won"],
            row["difference"],
            row["ratio"],
        )
        for row in result["assignees"]
    ]


def test_accuracy_compares_the_forecast_at_the_start_of_the_period_with_what_was_won(quarter):
    result = as_json(quarter, "report", "accuracy", "--period", "2026Q3", "--currency", "USD")
    assert (result["period"], result["start"], result["end"], result["currency"]) == (
        "2026Q3",
        "2026-07-01",
        "2026-09-30",
        "USD",
    )
    assert accuracy_rows(result) == [
        # A 10000/5000 forecast; won A 10000 and D 3000 EUR at 1.20 (09-10) = 3600: 13600.
        ("dana", 1, "10000.00", "5000.00", 2, "13600.00", "8600.00", "2.7200"),
        # B 4800/3600 (EUR at 1.20 on 09-30) and C 2000/300 (sam's on 07-01); won E 1000 (not expected
        # in Q3 on 07-01). 1000 / 3900 = 0.2564.
        ("sam", 2, "6800.00", "3900.00", 1, "1000.00", "-2900.00", "0.2564"),
        # G 2500/1250 then; won at 3000.
        (None, 1, "2500.00", "1250.00", 1, "3000.00", "1750.00", "2.4000"),
    ]
    assert result["total"] == {
        "expected_count": 4,
        "expected_value": "19300.00",
        "forecast": "10150.00",
        "won_count": 4,
        "won": "17600.00",
        "difference": "7450.00",
        "ratio": "1.7340",  # 17600 / 10150
    }


def test_accuracy_for_one_assignee(quarter):
    result = as_json(
        quarter, "report", "accuracy", "--period", "2026Q3", "--currency", "USD", "--assignee", "sam"
    )
    assert accuracy_rows(result) == [("sam", 2, "6800.00", "3900.00", 1, "1000.00", "-2900.00", "0.2564")]
    assert result["total"]["forecast"] == "3900.00"


def test_accuracy_of_a_period_with_nothing_forecast_has_a_null_ratio(quarter):
    result = as_json(quarter, "report", "accuracy", "--period", "2026Q1", "--currency", "USD")
    assert result["assignees"] == []
    assert result["total"]["ratio"] is None
    assert result["total"]["won"] == "0.00"


def test_accuracy_as_a_table_has_a_row_per_assignee_and_a_total(quarter):
    lines = quarter("report", "accuracy", "--period", "2026Q3", "--currency", "USD").stdout.splitlines()
    assert lines[0].split()[:4] == ["assignee", "expected", "value", "forecast"]
    assert lines[2].split() == ["dana", "1", "10,000.00", "5,000.00", "2", "13,600.00", "8,600.00", "2.7200"]
    assert lines[-1].split() == [
        "total",
        "4",
        "19,300.00",
        "10,150.00",
        "4",
        "17,600.00",
        "7,450.00",
        "1.7340",
    ]


def test_accuracy_needs_a_period_and_takes_no_by(quarter):
    assert "needs --period" in quarter.fails(2, "report", "accuracy")
    assert "--by does not apply" in quarter.fails(
        2, "report", "accuracy", "--period", "2026Q3", "--by", "month"
    )
    assert "several currencies" in quarter.fails(4, "report", "accuracy", "--period", "2026Q3")


# -- both ways of rebuilding ---------------------------------------------------------------------------


def test_forward_and_backward_rebuilds_give_the_same_deals_at_every_instant(shop):
    """The state is rebuilt from whichever end of history is nearer; both must agree to the column,
    here after every kind of change (edits of every field, description, reassignment, closing and
    reopening, an import update, an undo), just before, at and just after each event."""
    from datetime import timedelta

    from sqlalchemy import select

    from opp.core.clock import Clock
    from opp.core.context import open_context
    from opp.core.pipeline.asof import deals_as_of, deals_as_of_backward
    from opp.store import schema

    shop("edit", 1, "--description", "first words", OPP_NOW=day(10))
    shop("edit", 1, "--description", "second words", "--currency", "USD", OPP_NOW=day(11))
    shop("unassign", 1, OPP_NOW=day(11))
    shop("claim", 5, OPP_NOW=day(12))
    shop("stage", "negotiation", 4, "--reopen", OPP_NOW=day(12, "11:00:00"))
    shop("edit", 6, "--ref", "X-6", "--close", "2026-07-01", "--title", "Gamma II", OPP_NOW=day(13))
    update = "external_ref,title,customer,stage,value,currency\nX-6,Gamma III,Pat Smith,won,350,USD\n"
    shop("import", "-", input=update, OPP_NOW=day(14))
    shop("edit", 2, "--value", "900", OPP_NOW=day(15))
    shop("undo", OPP_NOW=day(15, "12:00:00"))
    shop("stage", "lost", 1, "--reason", "timing", OPP_NOW=day(16))

    context = open_context(shop.db, actor="dana", clock=Clock.from_env_value(NOW))
    try:
        with context.reading() as conn:
            moments = conn.execute(select(schema.history.c.at).distinct()).scalars().all()
            instants = sorted(
                {m + delta for m in moments for delta in (timedelta(0), timedelta(seconds=1))}
                | {moments[0] - timedelta(days=1)}
            )
            dialect = conn.dialect.name
            for instant in instants:
                forward = conn.execute(select(deals_as_of(dialect, instant)).order_by("id")).all()
                backward = conn.execute(select(deals_as_of_backward(dialect, instant)).order_by("id")).all()
                assert forward == backward, instant
            assert len(backward) == 6
    finally:
        context.close()


def test_a_deal_moved_to_another_customer_shows_its_customer_of_then(shop):
    """An import that moves a deal to another customer is history: --as-of an earlier day shows (and
    filters on) the customer of that day, whichever end history is rebuilt from."""
    from sqlalchemy import select

    from opp.core.clock import Clock
    from opp.core.context import open_context
    from opp.core.pipeline.asof import deals_as_of, deals_as_of_backward
    from opp.store import schema

    shop("edit", 1, "--ref", "A-1", OPP_NOW=day(10))
    shop("import", "-", input="external_ref,title,customer\nA-1,Alpha,Pat Smith\n", OPP_NOW=day(11))
    now = {d["id"]: d["customer"]["name"] for d in as_json(shop, "list", "--status", "all")}
    assert now[1] == "Pat Smith"
    then = {
        d["id"]: d["customer"]["name"]
        for d in as_json(shop, "list", "--status", "all", "--as-of", "2026-03-10")
    }
    assert then[1] == "Initech"
    initech = [d["id"] for d in as_json(shop, "list", "--customer", "Initech", "--as-of", "2026-03-10")]
    assert 1 in initech
    context = open_context(shop.db, actor="dana", clock=Clock.from_env_value(NOW))
    try:
        with context.reading() as conn:
            dialect = conn.dialect.name
            instant = datetime(2026, 3, 10, 12, 0)
            for rebuilt in (deals_as_of(dialect, instant), deals_as_of_backward(dialect, instant)):
                row = conn.execute(select(rebuilt.c.customer_id).where(rebuilt.c.id == 1)).one()
                initech_id = conn.execute(
                    select(schema.customers.c.id).where(schema.customers.c.name == "Initech")
                ).scalar_one()
                assert row.customer_id == initech_id
    finally:
        context.close()


def test_a_rebuild_for_figures_alone_leaves_the_descriptive_fields_null_and_the_rest_as_the_full_one(shop):
    """``descriptive=False`` (the waterfall's states): the title, description, reference, customer and
    lost reason are not rebuilt (null); every other column is the same as the full rebuild's, after
    edits of every kind, at each instant of history."""
    from datetime import timedelta

    from sqlalchemy import select

    from opp.core.clock import Clock
    from opp.core.context import open_context
    from opp.core.pipeline.asof import DESCRIPTIVE, changed_as_of
    from opp.core.pipeline.codec import column_of
    from opp.store import schema

    shop("edit", 1, "--description", "first words", "--title", "Alpha II", OPP_NOW=day(10))
    shop("edit", 2, "--value", "900", "--currency", "USD", "--ref", "B-2", OPP_NOW=day(11))
    shop("stage", "lost", 1, "--reason", "timing", OPP_NOW=day(12))
    shop("claim", 5, OPP_NOW=day(12))
    context = open_context(shop.db, actor="dana", clock=Clock.from_env_value(NOW))
    try:
        with context.reading() as conn:
            dialect = conn.dialect.name
            moments = conn.execute(select(schema.history.c.at).distinct()).scalars().all()
            blank = {column_of(name) for name in DESCRIPTIVE}
            kept = [c.name for c in schema.opportunities.columns if c.name not in blank]
            seen_changed = 0
            for instant in sorted({m - timedelta(seconds=1) for m in moments}):
                full = changed_as_of(dialect, instant, times=False)
                lean = changed_as_of(dialect, instant, times=False, descriptive=False)
                wanted = conn.execute(select(*(full.c[n] for n in kept)).order_by(full.c.id)).all()
                assert conn.execute(select(*(lean.c[n] for n in kept)).order_by(lean.c.id)).all() == wanted
                nulls = conn.execute(select(*(lean.c[n] for n in sorted(blank)))).all()
                assert all(value is None for row in nulls for value in row), instant
                seen_changed += len(wanted)
            assert seen_changed
    finally:
        context.close()


#: sqlite_stat1 of the history of the bench's million deals (bench/generate.py): 9.4 million events.
BENCH_HISTORY_STATISTICS = {
    "ix_history_field_at_action_opportunity_id": "9421274 588830 1 1 1",
    "ix_history_at_field_opportunity_id": "9421274 2 1 1",
    "ix_history_command_id": "9421274 93280",
    "ix_history_opportunity_id_id": "9421274 10 1",
}


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's query plans")
@pytest.mark.parametrize("per_field", ["588830", "100"], ids=["bench", "many fields"])
def test_rebuilding_backward_reads_each_changed_deal_s_events_by_the_deal(shop, per_field):
    """At a million deals' statistics, the changed deals' last changes before the instant are read
    from each deal's own events (the index on (opportunity_id, id)), not from the index on field and
    instant, which read every earlier stage event once per changed deal (over an hour at a million
    deals, where the index on field looked selective: "many fields", as custom fields' events make
    it); and the events since are grouped without looking up each one's deal (the deals created
    since are left out by their own ``created`` events)."""
    from sqlalchemy import select, text

    from opp.core.clock import Clock
    from opp.core.context import open_context
    from opp.core.pipeline.asof import changed_as_of
    from tests.test_aggregate_plans import with_statistics

    context = open_context(shop.db, actor="dana", clock=Clock.from_env_value(NOW))
    try:
        with context.store.engine.begin() as conn:
            with_statistics(conn, "bench")
            statistics = {
                **BENCH_HISTORY_STATISTICS,
                "ix_history_field_at_action_opportunity_id": f"9421274 {per_field} 1 1 1",
            }
            for index, stat in statistics.items():
                conn.execute(
                    text("UPDATE sqlite_stat1 SET stat = :s WHERE idx = :i"), {"s": stat, "i": index}
                )
            conn.execute(text("ANALYZE sqlite_schema"))
        with context.reading() as conn:
            state = changed_as_of("sqlite", datetime(2026, 3, 4, 12, 0))
            statement = select(*state.c).compile(conn, compile_kwargs={"literal_binds": True})
            plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}")]
            assert set(plan) >= {
                "SEARCH earlier USING INDEX ix_history_opportunity_id_id (opportunity_id=?)",
                "SEARCH born USING COVERING INDEX ix_history_field_at_action_opportunity_id"
                " (field=? AND at>?)",
            }, plan
            assert not any(line.startswith("SEARCH earlier") and "field" in line for line in plan), plan
            assert sum(line.startswith("SEARCH opportunities") for line in plan) == 1, plan
            # The same deals as the forward rebuild.
            rows = {row.id: row.stage for row in conn.execute(select(state.c.id, state.c.stage))}
            assert rows == {1: "lead", 2: "proposal", 3: "negotiation", 4: "negotiation", 5: "lead"}
    finally:
        context.close()
