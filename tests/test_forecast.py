"""opp forecast: the JSON shape, the groupings, per-deal rounding, the filters and their errors.

Money is read with ``parse_float=str`` so that every figure is compared as the exact JSON text
(``"0.30"``, never ``0.3`` or ``0.30000000000000004``).
"""

from __future__ import annotations

import json

import pytest


def deal(opp, *args, title="Deal", org="Initech", **env):
    """Create a deal and return its id."""
    return opp.json("create", title, "--org", org, *args, **env)["id"]


def forecast(opp, *args, **env):
    """The forecast as JSON, money as exact text."""
    return json.loads(opp("forecast", *args, "--format", "json", **env).stdout, parse_float=str)


def groups(result):
    return [(g["key"], g["count"], g["value"], g["forecast"]) for g in result["groups"]]


def test_groups_by_stage_in_pipeline_order_with_open_and_won_deals(opp):
    deal(opp, "--value", "400", "--stage", "negotiation")  # 400 × 75% = 300.00
    deal(opp, "--value", "500", "--stage", "won")  # 500 × 100% = 500.00
    deal(opp, "--value", "1000", "--stage", "lead")  # 1000 × 15% = 150.00
    deal(opp, "--value", "700", "--stage", "lost")  # lost: left out
    deal(opp, "--value", "200", "--stage", "proposal")  # 200 × 50% = 100.00
    result = forecast(opp)
    assert list(result) == ["currency", "groups", "total"]
    assert all(list(g) == ["key", "count", "value", "forecast"] for g in result["groups"])
    assert result["currency"] == "USD"
    assert groups(result) == [
        ("lead", 1, "1000.00", "150.00"),
        ("proposal", 1, "200.00", "100.00"),
        ("negotiation", 1, "400.00", "300.00"),
        ("closed-won", 1, "500.00", "500.00"),
    ]
    # 1000 + 200 + 400 + 500 = 2100; 150 + 100 + 300 + 500 = 1050
    assert result["total"] == {"count": 4, "value": "2100.00", "forecast": "1050.00"}


def test_an_empty_forecast_has_no_groups_and_zero_totals(cli):
    assert forecast(cli) == {
        "currency": "USD",
        "groups": [],
        "total": {"count": 0, "value": "0.00", "forecast": "0.00"},
    }


def test_each_deal_is_rounded_half_up_before_summing(opp):
    for _ in range(3):
        deal(opp, "--value", "0.05", "--stage", "proposal")
    # each: 0.05 × 50% = 0.025 → 0.03; the sum is 3 × 0.03 = 0.09 (rounding the sum 0.075 would give 0.08)
    result = forecast(opp)
    assert groups(result) == [("proposal", 3, "0.15", "0.09")]
    assert result["total"] == {"count": 3, "value": "0.15", "forecast": "0.09"}


def test_the_table_has_a_row_per_group_and_a_total(opp):
    deal(opp, "--value", "1000", "--stage", "lead")  # 150.00
    deal(opp, "--value", "0.05", "--stage", "proposal")  # 0.025 → 0.03
    lines = opp("forecast").stdout.splitlines()
    assert lines[0].split() == ["stage", "count", "value", "USD", "forecast", "USD"]
    assert lines[2].split() == ["lead", "1", "1,000.00", "150.00"]
    assert lines[3].split() == ["proposal", "1", "0.05", "0.03"]
    assert lines[4].split() == ["total", "2", "1,000.05", "150.03"]
    assert len(lines) == 5


def test_by_assignee_puts_unassigned_deals_under_a_null_key(opp):
    opp("user", "add", "erin")
    deal(opp, "--value", "100", "--assign", "dana")  # lead 15% → 15.00
    deal(opp, "--value", "1000", "--stage", "won", "--assign", "dana")  # 1000.00
    deal(opp, "--value", "200", "--stage", "proposal", "--assign", "erin")  # 100.00
    deal(opp, "--value", "300", "--stage", "negotiation")  # 225.00, unassigned
    result = forecast(opp, "--by", "assignee")
    assert groups(result) == [
        ("dana", 2, "1100.00", "1015.00"),  # 100 + 1000; 15 + 1000
        ("erin", 1, "200.00", "100.00"),
        (None, 1, "300.00", "225.00"),
    ]
    assert result["total"] == {"count": 4, "value": "1600.00", "forecast": "1340.00"}


def test_by_customer(opp):
    opp("customer", "add", "--org", "Globex")
    deal(opp, "--value", "100", org="Initech")  # 15.00
    deal(opp, "--value", "200", org="Initech")  # 30.00
    deal(opp, "--value", "80", "--stage", "proposal", org="Globex")  # 40.00
    assert groups(forecast(opp, "--by", "customer")) == [
        ("Globex", 1, "80.00", "40.00"),
        ("Initech", 2, "300.00", "45.00"),
    ]


def test_by_customer_keeps_an_organization_and_a_person_of_one_name_apart(opp):
    opp("customer", "add", "--org", "Pat Smith")
    opp("customer", "add", "--person", "Pat Smith")
    deal(opp, "--value", "100", org="Pat Smith")  # 15.00
    opp("create", "Own deal", "--person", "Pat Smith", "--value", "200")  # 30.00
    deal(opp, "--value", "80")  # Initech: 12.00
    assert groups(forecast(opp, "--by", "customer")) == [
        ("Initech", 1, "80.00", "12.00"),
        ("Pat Smith (individual)", 1, "200.00", "30.00"),
        ("Pat Smith (organization)", 1, "100.00", "15.00"),
    ]


@pytest.mark.parametrize(
    ("by", "june", "july"),
    [("month", "2026-06", "2026-07"), ("quarter", "2026Q2", "2026Q3")],
)
def test_by_month_and_quarter_group_on_expected_close(opp, by, june, july):
    deal(opp, "--value", "100", "--close", "2026-06-30")  # 15.00
    deal(opp, "--value", "200", "--close", "2026-06-01")  # 30.00
    deal(opp, "--value", "400", "--close", "2026-07-01")  # 60.00
    deal(opp, "--value", "1000")  # no expected close: 150.00 under a null key
    assert groups(forecast(opp, "--by", by)) == [
        (june, 2, "300.00", "45.00"),
        (july, 1, "400.00", "60.00"),
        (None, 1, "1000.00", "150.00"),
    ]


def test_months_of_different_years_stay_apart(opp):
    deal(opp, "--value", "100", "--close", "2027-01-15")
    deal(opp, "--value", "100", "--close", "2026-01-15")
    assert [g["key"] for g in forecast(opp, "--by", "month")["groups"]] == ["2026-01", "2027-01"]
    assert [g["key"] for g in forecast(opp, "--by", "quarter")["groups"]] == ["2026Q1", "2027Q1"]


@pytest.fixture
def closing(opp):
    """Deals closing on several days around the second quarter of 2026, and one without a date."""
    deal(opp, "--value", "100", "--close", "2026-03-31")
    deal(opp, "--value", "200", "--close", "2026-04-01")
    deal(opp, "--value", "400", "--close", "2026-06-30")
    deal(opp, "--value", "800", "--close", "2026-07-01")
    deal(opp, "--value", "1600")
    return opp


@pytest.mark.parametrize(
    ("args", "value", "count"),
    [
        (["--period", "2026Q2"], "600.00", 2),  # 200 + 400
        (["--period", "this-quarter"], "100.00", 1),  # now is 2026-03-10: Q1
        (["--period", "next-quarter"], "600.00", 2),
        (["--period", "2026-07"], "800.00", 1),
        (["--period", "2026"], "1500.00", 4),  # every dated deal: 100 + 200 + 400 + 800
        (["--from", "2026-04-01", "--to", "2026-07-01"], "1400.00", 3),  # both ends included
        (["--from", "2026-06-30"], "1200.00", 2),  # 400 + 800
        (["--to", "2026-04-01"], "300.00", 2),  # 100 + 200
    ],
)
def test_period_and_dates_filter_on_expected_close(closing, args, value, count):
    assert forecast(closing, *args)["total"]["value"] == value
    assert forecast(closing, *args)["total"]["count"] == count


def test_stage_is_repeatable_and_case_insensitive(opp):
    deal(opp, "--value", "100", "--stage", "lead")
    deal(opp, "--value", "200", "--stage", "proposal")
    deal(opp, "--value", "300", "--stage", "won")
    result = forecast(opp, "--stage", "LEAD", "--stage", "won")
    assert groups(result) == [("lead", 1, "100.00", "15.00"), ("closed-won", 1, "300.00", "300.00")]
    assert result["total"] == {"count": 2, "value": "400.00", "forecast": "315.00"}


def test_assignee_keeps_only_that_user_s_deals(opp):
    opp("user", "add", "erin")
    deal(opp, "--value", "100", "--assign", "dana")
    deal(opp, "--value", "200", "--assign", "erin")
    deal(opp, "--value", "400")
    assert forecast(opp, "--assignee", "erin")["total"] == {
        "count": 1,
        "value": "200.00",
        "forecast": "30.00",
    }


def test_several_currencies_need_a_reporting_currency(opp):
    deal(opp, "--value", "100")
    deal(opp, "--value", "100", "--currency", "EUR")
    error = opp.fails(4, "forecast")
    assert "several currencies (EUR, USD)" in error
    assert "--currency" in error
    assert "reporting_currency" in error


def test_one_foreign_currency_is_reported_in_it(opp):
    deal(opp, "--value", "100", "--currency", "NOK")
    assert forecast(opp) == {
        "currency": "NOK",
        "groups": [{"key": "lead", "count": 1, "value": "100.00", "forecast": "15.00"}],
        "total": {"count": 1, "value": "100.00", "forecast": "15.00"},
    }


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (2, ["--by", "bogus"], "cannot group a forecast by 'bogus'"),
        (2, ["--currency", "XYZ"], "unknown currency 'XYZ'"),
        (2, ["--period", "2026Q2", "--from", "2026-04-01"], "either --period or --from/--to"),
        (2, ["--period", "2026Q2", "--to", "2026-06-30"], "either --period or --from/--to"),
        (2, ["--period", "2026Q5"], "2026Q5"),
        (2, ["--from", "2026-02-30"], "2026-02-30"),
        (2, ["--stage", "bogus"], "unknown stage 'bogus'"),
        (3, ["--assignee", "nobody"], "no user 'nobody'"),
    ],
)
def test_bad_options_are_refused(opp, unchanged, code, args, expected):
    deal(opp, "--value", "100")
    check = unchanged()
    assert expected in opp.fails(code, "forecast", *args)
    check()
