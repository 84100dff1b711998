"""opp rate set/list/remove, and how forecasts and the pipeline convert deals with dated rates.

A deal converts at the rate in force on its closed_at date if closed, else its expected close, else
today; the inverse pair is used when no direct rate is in force; each deal's value and forecast are
converted exactly and rounded half up once, to the target currency's minor unit.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def deal(opp, *args, title="Deal", **env):
    """Create a deal for Initech and return its id."""
    return opp.json("create", title, "--org", "Initech", *args, **env)["id"]


def exact(outcome):
    """JSON with money as its exact text."""
    return json.loads(outcome.stdout, parse_float=str)


def total(opp, *args, **env):
    """The forecast's total in the currency asked: (currency, value, forecast)."""
    result = exact(opp("forecast", *args, "--format", "json", **env))
    return result["currency"], result["total"]["value"], result["total"]["forecast"]


# -- rate set / list / remove --------------------------------------------------------------------------


def test_set_prints_the_rate(cli):
    out = cli("rate", "set", "eur", "usd", "1.1", "--date", "2026-01-01", "--format", "json")
    assert out.stdout == '{"from_currency": "EUR", "to_currency": "USD", "rate": 1.1, "date": "2026-01-01"}\n'


def test_set_without_a_date_starts_today(cli):
    rate = exact(cli("rate", "set", "EUR", "USD", "1.0834", "--format", "json"))
    assert rate == {"from_currency": "EUR", "to_currency": "USD", "rate": "1.0834", "date": "2026-03-10"}


def test_list_orders_by_pair_and_date_and_filters_by_currency(cli):
    cli("rate", "set", "USD", "JPY", "150", "--date", "2026-02-01")
    cli("rate", "set", "EUR", "USD", "1.2", "--date", "2026-02-01")
    cli("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    listed = exact(cli("rate", "list", "--format", "json"))
    assert [(r["from_currency"], r["to_currency"], r["rate"], r["date"]) for r in listed] == [
        ("EUR", "USD", "1.1", "2026-01-01"),
        ("EUR", "USD", "1.2", "2026-02-01"),
        ("USD", "JPY", 150, "2026-02-01"),
    ]
    assert [r["to_currency"] for r in cli.json("rate", "list", "--currency", "jpy")] == ["JPY"]
    lines = cli("rate", "list").stdout.splitlines()
    assert lines[0].split() == ["from", "to", "rate", "from", "date"]
    assert lines[2].split() == ["EUR", "USD", "1.1", "2026-01-01"]


def test_the_same_pair_and_day_replaces_the_rate(cli):
    cli("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    cli("rate", "set", "EUR", "USD", "1.15", "--date", "2026-01-01")
    assert exact(cli("rate", "list", "--format", "json")) == [
        {"from_currency": "EUR", "to_currency": "USD", "rate": "1.15", "date": "2026-01-01"}
    ]


def test_remove_deletes_the_rate_starting_that_day(cli):
    cli("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    cli("rate", "set", "EUR", "USD", "1.2", "--date", "2026-02-01")
    removed = exact(cli("rate", "remove", "EUR", "USD", "--date", "2026-01-01", "--format", "json"))
    assert removed == {"from_currency": "EUR", "to_currency": "USD", "rate": "1.1", "date": "2026-01-01"}
    assert [r["date"] for r in cli.json("rate", "list")] == ["2026-02-01"]


@pytest.mark.parametrize(
    "args",
    [
        ["EUR", "USD", "--date", "2026-01-02"],  # no rate starts that day
        ["USD", "EUR", "--date", "2026-01-01"],  # the inverse pair is another pair
        ["EUR", "JPY", "--date", "2026-01-01"],
    ],
)
def test_remove_an_unknown_rate_is_not_found(cli, unchanged, args):
    cli("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    check = unchanged()
    assert "rate starting" in cli.fails(3, "rate", "remove", *args)
    check()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["EUR", "EUR", "1.1"], "two different currencies"),
        (["eur", "EUR", "1.1"], "two different currencies"),
        (["EUR", "USD", "0"], "positive number"),
        (["EUR", "USD", "0.000"], "positive number"),
        (["EUR", "USD", "--", "-1"], "positive number"),
        (["EUR", "USD", "abc"], "positive number"),
        (["EUR", "USD", "1e3"], "positive number"),
        (["EUR", "USD", "1.1234567890123"], "positive number"),  # 13 decimals
        (["EUR", "XYZ", "1.1"], "unknown currency 'XYZ'"),
        (["EUR", "USD", "1.1", "--date", "2026-02-30"], "2026-02-30"),
    ],
)
def test_set_refuses_bad_input(cli, unchanged, args, expected):
    cli("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    check = unchanged()
    assert expected in cli.fails(2, "rate", "set", *args)
    check()


def test_a_negative_rate_is_a_usage_error(cli, unchanged):
    cli("rate", "list")
    check = unchanged()
    cli.fails(2, "rate", "set", "EUR", "USD", "-1")
    check()


# -- which rate a deal converts at ---------------------------------------------------------------------


def test_won_revenue_converts_at_the_rate_of_its_closing_day_and_stays_fixed(opp):
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    deal(opp, "--value", "1000", "--currency", "EUR", "--stage", "won", OPP_NOW="2026-02-14T23:30:00Z")
    assert total(opp, "--currency", "USD") == ("USD", "1100.00", "1100.00")  # 1000 × 1.10
    opp("rate", "set", "EUR", "USD", "1.30", "--date", "2026-02-15")  # the day after it closed
    assert total(opp, "--currency", "USD") == ("USD", "1100.00", "1100.00")
    assert total(opp, "--currency", "USD", OPP_NOW="2026-09-01T00:00:00Z") == ("USD", "1100.00", "1100.00")
    opp("rate", "set", "EUR", "USD", "1.20", "--date", "2026-02-14")  # in force on the closing day itself
    assert total(opp, "--currency", "USD") == ("USD", "1200.00", "1200.00")  # 1000 × 1.20


def test_a_deal_won_through_a_stage_move_converts_at_its_closed_at_date(opp):
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    opp("rate", "set", "EUR", "USD", "1.30", "--date", "2026-03-01")
    won = deal(opp, "--value", "100", "--currency", "EUR", "--stage", "negotiation", "--close", "2026-06-30")
    opp("stage", "won", won, OPP_NOW="2026-02-20T12:00:00Z")
    # closed 2026-02-20: 1.10 applies, not the 1.30 in force on the expected close or today
    assert total(opp, "--currency", "USD") == ("USD", "110.00", "110.00")


def test_open_deals_convert_at_their_expected_close_else_today(opp):
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    opp("rate", "set", "EUR", "USD", "1.30", "--date", "2026-06-01")
    deal(opp, "--value", "100", "--currency", "EUR", "--close", "2026-06-30", "--stage", "proposal")
    deal(opp, "--value", "100", "--currency", "EUR", "--close", "2026-05-31", "--stage", "negotiation")
    deal(opp, "--value", "100", "--currency", "EUR")  # no expected close: today
    by_stage = exact(opp("forecast", "--currency", "USD", "--format", "json"))
    assert [(g["key"], g["value"], g["forecast"]) for g in by_stage["groups"]] == [
        ("lead", "110.00", "16.50"),  # today 2026-03-10: 100 × 1.10; 15 × 1.10
        ("proposal", "130.00", "65.00"),  # on 2026-06-30: 100 × 1.30; 50 × 1.30
        ("negotiation", "110.00", "82.50"),  # on 2026-05-31: 100 × 1.10; 75 × 1.10
    ]
    # "today" moves with the clock: on 2026-07-01 the undated deal takes 1.30 too
    later = exact(opp("forecast", "--currency", "USD", "--format", "json", OPP_NOW="2026-07-01T00:00:00Z"))
    assert later["groups"][0] == {"key": "lead", "count": 1, "value": "130.00", "forecast": "19.50"}


def test_the_inverse_pair_is_used_when_no_direct_rate_is_in_force(opp):
    opp("rate", "set", "USD", "EUR", "3", "--date", "2026-01-01")
    deal(opp, "--value", "100", "--currency", "EUR", "--stage", "won")
    deal(opp, "--value", "200", "--currency", "EUR", "--stage", "proposal")
    result = exact(opp("forecast", "--currency", "USD", "--format", "json"))
    assert [(g["key"], g["value"], g["forecast"]) for g in result["groups"]] == [
        ("proposal", "66.67", "33.33"),  # 200 / 3 = 66.666… → 66.67; 100 / 3 = 33.333… → 33.33
        ("closed-won", "33.33", "33.33"),  # 100 / 3 = 33.333… → 33.33
    ]
    assert result["total"] == {"count": 2, "value": "100.00", "forecast": "66.66"}


def test_an_inverted_rate_is_not_rounded_before_it_is_applied(opp):
    opp("rate", "set", "USD", "EUR", "1.44", "--date", "2026-01-01")
    deal(opp, "--value", "1.26", "--currency", "EUR", "--stage", "won")
    # exactly 1.26 / 1.44 = 0.875 → 0.88 half up; taking 1 / 1.44 = 0.69444… to a finite number of digits
    # first gives 0.87499…, which rounds to 0.87
    assert total(opp, "--currency", "USD") == ("USD", "0.88", "0.88")


def test_a_half_is_rounded_up_through_an_inverse_rate(opp):
    opp("rate", "set", "USD", "EUR", "0.4", "--date", "2026-01-01")
    deal(opp, "--value", "0.05", "--currency", "EUR", "--stage", "won")
    assert total(opp, "--currency", "USD") == ("USD", "0.13", "0.13")  # 0.05 / 0.4 = 0.125 → 0.13


def test_a_direct_rate_wins_over_the_inverse_one(opp):
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    opp("rate", "set", "USD", "EUR", "2", "--date", "2026-01-01")
    deal(opp, "--value", "100", "--currency", "EUR", "--stage", "won")
    assert total(opp, "--currency", "USD") == ("USD", "110.00", "110.00")  # 100 × 1.1, not 100 / 2


def test_the_inverse_fills_in_only_while_no_direct_rate_is_in_force(opp):
    opp("rate", "set", "USD", "EUR", "2", "--date", "2026-01-01")
    opp("rate", "set", "EUR", "USD", "1.5", "--date", "2026-06-01")
    deal(opp, "--value", "100", "--currency", "EUR", "--stage", "won")  # closed today, 2026-03-10
    deal(opp, "--value", "100", "--currency", "EUR", "--stage", "won", "--close", "2026-06-30")
    # closed today: only the inverse is in force: 100 / 2 = 50.00; the other closed today too
    assert total(opp, "--currency", "USD") == ("USD", "100.00", "100.00")
    deal(opp, "--value", "100", "--currency", "EUR", "--stage", "proposal", "--close", "2026-06-30")
    # the open one converts on 2026-06-30 with the direct rate: 100 × 1.5 = 150.00; 50 × 1.5 = 75.00
    assert total(opp, "--currency", "USD") == ("USD", "250.00", "175.00")


def test_a_missing_rate_is_refused_naming_the_pair_and_the_day(opp, unchanged):
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-07-01")
    deal(opp, "--value", "100", "--currency", "EUR", "--close", "2026-06-30")
    deal(opp, "--value", "100")
    check = unchanged()
    for command in ("forecast", "pipeline"):
        error = opp.fails(4, command, "--currency", "USD")
        assert "no exchange rate from EUR to USD in force on 2026-06-30" in error
        assert "opp rate set EUR USD RATE --date 2026-06-30" in error
    # the other way, USD to EUR: the direct pair USD/EUR is missing and EUR/USD starts too late
    assert "from USD to EUR in force on 2026-03-10" in opp.fails(4, "forecast", "--currency", "EUR")
    check()


def test_conversion_rounds_to_the_yen(opp):
    opp("rate", "set", "EUR", "JPY", "161.37", "--date", "2026-01-01")
    deal(opp, "--value", "12.34", "--currency", "EUR", "--stage", "won")
    out = opp("forecast", "--currency", "JPY", "--format", "json").stdout
    # 12.34 × 161.37 = 1991.3058 → 1991 (JPY has no decimals)
    assert out == (
        '{"currency": "JPY", "groups": [{"key": "closed-won", "count": 1, "value": 1991, "forecast": 1991}], '
        '"total": {"count": 1, "value": 1991, "forecast": 1991}}\n'
    )


def test_yen_convert_to_euro_cents_through_the_inverse(opp):
    opp("rate", "set", "EUR", "JPY", "161.37", "--date", "2026-01-01")
    deal(opp, "--value", "1000", "--currency", "JPY", "--stage", "won")
    # 1000 / 161.37 = 6.19693… → 6.20
    assert total(opp, "--currency", "EUR") == ("EUR", "6.20", "6.20")


def test_conversion_rounds_to_the_fils(opp):
    opp("rate", "set", "USD", "KWD", "0.3075", "--date", "2026-01-01")
    deal(opp, "--value", "1.00", "--currency", "USD", "--stage", "won")
    assert total(opp, "--currency", "KWD") == ("KWD", "0.308", "0.308")  # 1.00 × 0.3075 → 0.308 (half up)


def test_fils_convert_half_up_to_cents(opp):
    opp("rate", "set", "KWD", "USD", "3.2525", "--date", "2026-01-01")
    deal(opp, "--value", "10.000", "--currency", "KWD", "--stage", "won")
    # 10.000 × 3.2525 = 32.525 → 32.53 (half up; half-even would give 32.52)
    assert total(opp, "--currency", "USD") == ("USD", "32.53", "32.53")


def test_a_converted_forecast_is_rounded_once(opp):
    opp("rate", "set", "EUR", "USD", "1.2", "--date", "2026-01-01")
    deal(opp, "--value", "0.05", "--currency", "EUR", "--stage", "proposal")
    # value: 0.05 × 1.2 = 0.06. forecast: 0.05 × 50% × 1.2 = 0.03 exactly; rounding the EUR forecast
    # first (0.025 → 0.03) and then converting (0.036 → 0.04) would be one cent too much
    assert total(opp, "--currency", "USD") == ("USD", "0.06", "0.03")


def test_a_forecast_converted_to_yen_is_rounded_once(opp):
    opp("rate", "set", "EUR", "JPY", "161", "--date", "2026-01-01")
    deal(opp, "--value", "0.01", "--currency", "EUR", "--stage", "proposal")
    # value: 0.01 × 161 = 1.61 → 2. forecast: 0.01 × 50% × 161 = 0.805 → 1; twice rounded it would be
    # 0.005 → 0.01 EUR, then 1.61 → 2 JPY
    assert total(opp, "--currency", "JPY") == ("JPY", 2, 1)


def test_a_forecast_converted_through_an_inverse_is_rounded_once(opp):
    opp("rate", "set", "USD", "EUR", "0.8", "--date", "2026-01-01")
    deal(opp, "--value", "0.05", "--currency", "EUR", "--stage", "proposal")
    # forecast: 0.05 × 50% / 0.8 = 0.03125 → 0.03; twice rounded: 0.03 / 0.8 = 0.0375 → 0.04
    assert total(opp, "--currency", "USD") == ("USD", "0.06", "0.03")  # value 0.05 / 0.8 = 0.0625 → 0.06


def test_converted_deals_are_rounded_each_before_summing(opp):
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    for _ in range(3):
        deal(opp, "--value", "0.05", "--currency", "EUR", "--stage", "won")
    # each: 0.05 × 1.1 = 0.055 → 0.06; three make 0.18 (converting the sum 0.15 would give 0.165 → 0.17)
    assert total(opp, "--currency", "USD") == ("USD", "0.18", "0.18")


def test_deals_already_in_the_target_currency_are_not_converted(opp):
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    deal(opp, "--value", "100", "--stage", "proposal")  # USD: 100.00, 50.00
    deal(opp, "--value", "100", "--currency", "EUR", "--stage", "proposal")  # 110.00, 55.00
    assert total(opp, "--currency", "USD") == ("USD", "210.00", "105.00")


def test_the_reporting_currency_is_used_without_currency(opp):
    opp("rate", "set", "EUR", "USD", "1.25", "--date", "2026-01-01")
    deal(opp, "--value", "100", "--stage", "proposal")  # USD 100 / 1.25 = 80.00 EUR; 50 / 1.25 = 40.00
    deal(opp, "--value", "100", "--currency", "EUR", "--stage", "proposal")  # 100.00, 50.00
    opp("config", "set", "reporting_currency", "EUR")
    assert total(opp) == ("EUR", "180.00", "90.00")
    pipeline = exact(opp("pipeline", "--format", "json"))
    assert pipeline["currency"] == "EUR"
    assert pipeline["stages"][2] == {
        "stage": "proposal",
        "name": "Proposal",
        "count": 2,
        "value": "180.00",
        "forecast": "90.00",
    }
    assert pipeline["total"] == {"count": 2, "value": "180.00", "forecast": "90.00"}
    assert total(opp, "--currency", "USD") == ("USD", "225.00", "112.50")  # --currency wins: 100 × 1.25


def test_the_reporting_currency_applies_to_deals_of_one_other_currency(opp):
    opp("rate", "set", "EUR", "USD", "1.25", "--date", "2026-01-01")
    opp("config", "set", "reporting_currency", "EUR")
    deal(opp, "--value", "100", "--stage", "won")
    assert total(opp) == ("EUR", "80.00", "80.00")  # 100 / 1.25


def test_any_window_converts_each_deal_at_the_rate_of_its_day(opp):
    """Two years of monthly rates (and an inverse one before them), deals spread over them: whatever
    window a forecast asks for, each deal converts at the rate in force on its own day, rounded once.
    (Only the rate periods the window's deals fall in go into the query: this checks none is missed.)"""
    opp("rate", "set", "USD", "EUR", "0.8", "--date", "2024-07-01")  # USD→EUR: EUR→USD 1.25 until 2025
    direct = {}
    for month in range(24):
        start = date(2025 + month // 12, month % 12 + 1, 1)
        direct[start] = Decimal("1.05") + Decimal(month) / 100
        opp("rate", "set", "EUR", "USD", str(direct[start]), "--date", start.isoformat())

    def rate_on(day):
        started = [start for start in direct if start <= day]
        return direct[max(started)] if started else Decimal(1) / Decimal("0.8")

    deals = []
    for i in range(30):
        day = date(2024, 8, 1) + timedelta(days=29 * i)
        value = Decimal(1000 + 37 * i) + Decimal(i) / 100
        if i % 3 == 0:  # won late on that day: closed_at and expected close on the same day
            args = ("--stage", "won", "--close", day.isoformat())
            deal(opp, "--value", str(value), "--currency", "EUR", *args, OPP_NOW=f"{day}T23:30:00Z")
            deals.append((day, value, 100))
        else:
            deal(opp, "--value", str(value), "--currency", "EUR", "--stage", "proposal", "--close", str(day))
            deals.append((day, value, 50))

    def cents(amount):
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    windows = [
        ((), date.min, date.max),
        (("--period", "2025Q2"), date(2025, 4, 1), date(2025, 6, 30)),
        (("--period", "2026-03"), date(2026, 3, 1), date(2026, 3, 31)),
        (("--from", "2024-09-15", "--to", "2025-01-31"), date(2024, 9, 15), date(2025, 1, 31)),
        (("--from", "2026-06-01"), date(2026, 6, 1), date.max),
    ]
    for args, first, last in windows:
        chosen = [(day, value, p) for day, value, p in deals if first <= day <= last]
        value = sum((cents(v * rate_on(day)) for day, v, _p in chosen), Decimal(0))
        forecast = sum((cents(v * p / 100 * rate_on(day)) for day, v, p in chosen), Decimal(0))
        assert total(opp, "--currency", "USD", *args) == ("USD", str(cents(value)), str(cents(forecast))), (
            args
        )
    # A deal from before any rate is refused where a window holds it, and only there.
    deal(opp, "--value", "10", "--currency", "EUR", "--stage", "proposal", "--close", "2024-06-20")
    assert "from EUR to USD in force on 2024-06-20" in opp.fails(4, "forecast", "--currency", "USD")
    assert "in force on 2024-06-20" in opp.fails(4, "forecast", "--currency", "USD", "--to", "2024-06-30")
    assert total(opp, "--currency", "USD", "--period", "2025Q2")[0] == "USD"


def test_a_currency_without_any_rate_is_refused(opp):
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    deal(opp, "--value", "100", "--currency", "EUR", "--close", "2026-06-30")
    deal(opp, "--value", "100", "--currency", "GBP", "--close", "2026-05-31")
    assert "no exchange rate from GBP to USD in force on 2026-05-31" in opp.fails(
        4, "forecast", "--currency", "USD"
    )
    assert total(opp, "--currency", "USD", "--period", "2026-06") == ("USD", "110.00", "16.50")


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        ("1234567.89", "1.0834"),  # the products fit in 64 bits: the database's integer arithmetic
        ("9999999999999.99", "1.123456789012"),  # they do not: exact arithmetic beyond 64 bits
        ("9999999999999.99", "0.000000000001"),
    ],
)
def test_conversion_is_exact_on_both_sides_of_64_bits(opp, value, rate):
    from fractions import Fraction

    opp("rate", "set", "EUR", "USD", rate, "--date", "2026-01-01")
    deal(opp, "--value", value, "--currency", "EUR", "--stage", "proposal", "--close", "2026-06-30")

    def cents(exact):
        whole, rest = divmod(exact.numerator * 100, exact.denominator)
        return Decimal(whole + (1 if 2 * rest >= exact.denominator else 0)) / 100  # half up

    converted = Fraction(value) * Fraction(rate)
    expected = (f"{cents(converted):.2f}", f"{cents(converted / 2):.2f}")  # proposal: 50 %
    assert total(opp, "--currency", "USD")[1:] == expected


# -- through a third currency ----------------------------------------------------------------------------


@pytest.fixture(params=["case", "lookup"])
def conversion_path(request, monkeypatch):
    """Both ways the database converts: a CASE over the rate periods, and a lookup per deal (used when
    the periods are too many for a CASE)."""
    if request.param == "lookup":
        monkeypatch.setattr("opp.core.money.rates.MAX_CASE_PERIODS", 0)
    return request.param


def test_a_third_currency_bridges_a_pair_without_a_direct_or_inverse_rate(opp, conversion_path):
    opp("rate", "set", "JPY", "USD", "0.00665", "--date", "2026-01-01")
    opp("rate", "set", "EUR", "USD", "1.085", "--date", "2026-01-01")
    deal(opp, "--value", "1000", "--currency", "JPY", "--stage", "won")
    # 1000 JPY × 0.00665 USD/JPY ÷ 1.085 USD/EUR = 6.1290… EUR
    assert total(opp, "--currency", "EUR") == ("EUR", "6.13", "6.13")


def test_the_product_of_the_two_legs_is_applied_exactly_and_rounded_once(opp, conversion_path):
    opp("rate", "set", "GBP", "USD", "0.5", "--date", "2026-01-01")
    opp("rate", "set", "USD", "EUR", "0.5", "--date", "2026-01-01")
    deal(opp, "--value", "0.05", "--currency", "GBP", "--stage", "won")
    deal(opp, "--value", "1.01", "--currency", "GBP", "--stage", "proposal")
    # 0.05 × 0.5 × 0.5 = 0.0125 → 0.01 (rounding the first leg to 0.03 would give 0.015 → 0.02);
    # 1.01 × 0.25 = 0.2525 → 0.25, its forecast 0.505 × 0.25 = 0.12625 → 0.13
    assert total(opp, "--currency", "EUR") == ("EUR", "0.26", "0.14")


def test_the_first_third_currency_in_alphabetical_order_with_both_legs_is_used(opp, conversion_path):
    opp("rate", "set", "NOK", "USD", "0.1", "--date", "2026-01-01")
    opp("rate", "set", "USD", "EUR", "0.5", "--date", "2026-01-01")  # through USD: 100 × 0.05 = 5.00
    opp("rate", "set", "EUR", "CHF", "0.5", "--date", "2026-01-01")
    opp("rate", "set", "NOK", "CHF", "0.2", "--date", "2026-01-01")  # through CHF: 100 × 0.2 / 0.5 = 40.00
    opp("rate", "set", "NOK", "AUD", "9", "--date", "2026-01-01")  # AUD has no leg to EUR
    deal(opp, "--value", "100", "--currency", "NOK", "--stage", "won")
    assert total(opp, "--currency", "EUR") == ("EUR", "40.00", "40.00")
    # while only USD had both legs in force, USD was the way
    opp("rate", "remove", "NOK", "CHF", "--date", "2026-01-01")
    opp("rate", "set", "NOK", "CHF", "0.2", "--date", "2026-06-01")
    assert total(opp, "--currency", "EUR") == ("EUR", "5.00", "5.00")
    # a deal closing after both CHF legs are in force goes through CHF: 40.00, its forecast 20.00
    deal(opp, "--value", "100", "--currency", "NOK", "--stage", "proposal", "--close", "2026-06-30")
    assert total(opp, "--currency", "EUR") == ("EUR", "45.00", "25.00")


def test_a_direct_or_inverse_rate_wins_over_a_third_currency(opp, conversion_path):
    opp("rate", "set", "NOK", "USD", "0.1", "--date", "2026-01-01")
    opp("rate", "set", "USD", "EUR", "0.5", "--date", "2026-01-01")
    deal(opp, "--value", "100", "--currency", "NOK", "--stage", "won")
    opp("rate", "set", "EUR", "NOK", "10", "--date", "2026-03-01")
    assert total(opp, "--currency", "EUR") == ("EUR", "10.00", "10.00")  # 100 / 10, not 100 × 0.05


def test_without_any_bridge_the_missing_pair_is_named(opp, unchanged, conversion_path):
    opp("rate", "set", "NOK", "USD", "0.1", "--date", "2026-01-01")
    opp("rate", "set", "USD", "EUR", "0.5", "--date", "2026-05-01")  # the second leg starts too late
    deal(opp, "--value", "100", "--currency", "NOK", "--stage", "won")
    check = unchanged()
    assert "no exchange rate from NOK to EUR in force on 2026-03-10" in opp.fails(
        4, "forecast", "--currency", "EUR"
    )
    check()


# -- figures beyond what the database holds ---------------------------------------------------------------


def test_a_deal_converted_beyond_64_bits_is_refused_naming_it(opp, unchanged, conversion_path):
    opp("rate", "set", "USD", "IDR", "16000", "--date", "2026-01-01")
    big = deal(opp, "--value", "10000000000000", "--currency", "USD")
    check = unchanged()
    for command in ("forecast", "pipeline"):
        error = opp.fails(4, command, "--currency", "IDR")
        assert f"deal {big}'s value of 10,000,000,000,000.00 USD is 160,000,000,000,000,000.00 IDR" in error
        assert "at most 92,233,720,368,547,758.07 IDR" in error
        assert len(error) < 240 and "SELECT" not in error
    check()
    assert total(opp, "--currency", "USD")[1] == "10000000000000.00"


def test_converted_deals_adding_up_beyond_64_bits_are_refused_naming_the_sum(opp, unchanged, conversion_path):
    opp("rate", "set", "USD", "IDR", "16000", "--date", "2026-01-01")
    deal(opp, "--value", "5000000000000", "--currency", "USD")
    assert total(opp, "--currency", "IDR")[1] == "80000000000000000.00"  # one fits
    deal(opp, "--value", "5000000000000", "--currency", "USD")
    check = unchanged()
    for command in ("forecast", "pipeline"):
        error = opp.fails(4, command, "--currency", "IDR")
        assert "the deals' value in IDR adds up to about 160,000,000,000,000,000.00 IDR" in error
        assert len(error) < 240 and "SELECT" not in error
    check()


# -- the rate in force on a deal's day, found by halving the periods -------------------------------------


def _newest_started_in_sql(starts: list[date], day: date | None) -> int | None:
    """What the SQL of opp.core.money.rates._newest_started gives for ``day`` over periods starting on
    ``starts`` (each period's part: its position, newest first), evaluated by SQLite."""
    from sqlalchemy import Date, create_engine, literal, null, select

    from opp.core.money import rates

    periods = sorted(
        (rates._Period("EUR", start, None, index, 1) for index, start in enumerate(starts)),
        key=lambda period: period.start,
        reverse=True,
    )
    when = literal(day, Date) if day is not None else null()
    expression = rates._newest_started(when, periods, lambda period: period.numerator, null())
    with create_engine("sqlite://").connect() as conn:
        found = conn.execute(select(expression)).scalar()
    return None if found is None else int(found)


@settings(max_examples=200, deadline=None)
@given(
    starts=st.lists(st.dates(date(2020, 1, 1), date(2030, 12, 31)), min_size=0, max_size=40, unique=True),
    day=st.one_of(st.none(), st.dates(date(2019, 6, 1), date(2031, 6, 30))),
    on_a_start=st.booleans(),
)
def test_the_period_found_by_halving_is_the_newest_that_started_by_the_day(starts, day, on_a_start):
    if on_a_start and starts and day is not None:
        day = starts[len(starts) // 2]  # on a start itself: that period, not the one before
    started = [index for index, start in enumerate(starts) if day is not None and start <= day]
    newest = max(started, key=lambda index: starts[index]) if started else None
    assert _newest_started_in_sql(starts, day) == newest
