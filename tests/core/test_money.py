"""Behaviour of opp.core.money.amounts: what amounts and probabilities are accepted, and how money is
stored."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opp.core.errors import Invalid
from opp.core.money.amounts import (
    MAX_MINOR,
    ROUNDING,
    forecast_minor,
    format_money,
    from_minor,
    minor_unit,
    normalize_currency,
    parse_amount,
    parse_probability,
    round_minor,
    round_to_minor,
    to_minor,
)
from opp.core.money.currencies import MINOR_UNITS

CURRENCIES = sorted(MINOR_UNITS)


def refused(call: object, *args: object) -> Invalid:
    """Run ``call(*args)``, demand it raise Invalid, and return the error for further checks."""
    assert callable(call)
    with pytest.raises(Invalid) as caught:
        call(*args)
    error = caught.value
    assert error.message == str(error)
    assert "\n" not in error.message
    assert error.message[:1] == error.message[:1].lower()
    return error


# --- the currency table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "places"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("NOK", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("ISK", 0),
        ("VND", 0),
        ("XAF", 0),
        ("XOF", 0),
        ("XPF", 0),
        ("CLP", 0),
        ("PYG", 0),
        ("UGX", 0),
        ("RWF", 0),
        ("BIF", 0),
        ("DJF", 0),
        ("GNF", 0),
        ("KMF", 0),
        ("VUV", 0),
        ("UYI", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("OMR", 3),
        ("TND", 3),
        ("JOD", 3),
        ("LYD", 3),
        ("IQD", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("SLE", 2),
        ("ZWG", 2),
        ("XCG", 2),
        ("VES", 2),
        ("VED", 2),
    ],
)
def test_each_currency_has_its_iso_4217_number_of_decimals(code: str, places: int) -> None:
    assert MINOR_UNITS[code] == places
    assert minor_unit(code) == places


@pytest.mark.parametrize("code", ["XAU", "XAG", "XPT", "XPD", "XXX", "XTS", "XDR", "XSU", "XUA", "XBA"])
def test_codes_without_a_minor_unit_are_not_currencies(code: str) -> None:
    assert code not in MINOR_UNITS


@pytest.mark.parametrize("code", ["HRK", "CUC", "ZWL", "ANG", "SLL", "DEM", "FRF"])
def test_withdrawn_codes_are_not_currencies(code: str) -> None:
    assert code not in MINOR_UNITS


def test_the_table_holds_only_three_letter_codes_with_known_scales() -> None:
    assert len(MINOR_UNITS) > 150
    for code, places in MINOR_UNITS.items():
        assert len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()
        assert places in (0, 2, 3, 4)


# --- normalize_currency ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["USD", "usd", " Usd ", "\tusd\n"])
def test_currency_is_stripped_and_upper_cased(text: str) -> None:
    assert normalize_currency(text) == "USD"


@pytest.mark.parametrize("text", ["XYZ", "US", "USDD", "", "XAU", "u$d", "dollar"])
def test_unknown_currency_is_refused_quoting_the_input(text: str) -> None:
    error = refused(normalize_currency, text)
    assert error.message.startswith("unknown currency")
    assert repr(text.strip()) in error.message
    assert error.hint is not None and "ISO 4217" in error.hint and "USD" in error.hint


def test_minor_unit_of_an_unknown_currency_is_refused() -> None:
    refused(minor_unit, "XYZ")


# --- parse_amount: accepted forms -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("50000", "USD", "50000.00"),
        ("50000.50", "USD", "50000.50"),
        ("50000.5", "USD", "50000.50"),
        ("50_000", "USD", "50000.00"),
        ("1_000_000.25", "USD", "1000000.25"),
        ("50k", "USD", "50000.00"),
        ("2.5K", "USD", "2500.00"),
        ("1.2m", "USD", "1200000.00"),
        ("1M", "USD", "1000000.00"),
        ("1.2345k", "USD", "1234.50"),
        ("0.01", "USD", "0.01"),
        ("0", "USD", "0.00"),
        ("12.340", "USD", "12.34"),
        ("  50000  ", "USD", "50000.00"),
        ("\t7\n", "EUR", "7.00"),
        ("50000", "JPY", "50000"),
        ("1.5k", "JPY", "1500"),
        ("0.001m", "JPY", "1000"),
        ("2.000", "JPY", "2"),
        ("1.234", "KWD", "1.234"),
        ("2.5", "KWD", "2.500"),
        ("1.2345", "CLF", "1.2345"),
        ("3", "CLF", "3.0000"),
        ("50000", "usd", "50000.00"),
    ],
)
def test_accepted_amount_is_returned_at_the_currencys_scale(text: str, currency: str, expected: str) -> None:
    amount = parse_amount(text, currency)
    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -MINOR_UNITS[currency.strip().upper()]


def test_usd_amount_keeps_two_decimals_and_jpy_none() -> None:
    assert str(parse_amount("50000", "USD")) == "50000.00"
    assert str(parse_amount("50000", "JPY")) == "50000"
    assert str(parse_amount("1.5", "KWD")) == "1.500"
    assert str(parse_amount("1", "CLF")) == "1.0000"


def test_trailing_zeros_beyond_the_currency_are_not_extra_decimals() -> None:
    assert parse_amount("2.000", "JPY") == Decimal("2")
    assert parse_amount("1.2300k", "JPY") == Decimal("1230")
    assert parse_amount("0.0100", "USD") == Decimal("0.01")


def test_the_largest_value_is_accepted() -> None:
    assert to_minor(parse_amount("10000000000000.00", "USD"), "USD") == MAX_MINOR
    assert to_minor(parse_amount("1000000000000000", "JPY"), "JPY") == MAX_MINOR


# --- parse_amount: refused forms ------------------------------------------------------------------


def test_negative_value_is_refused() -> None:
    error = refused(parse_amount, "-5", "USD")
    assert error.message.startswith("value must not be negative")
    assert "'-5'" in error.message


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_value_is_refused(text: str) -> None:
    error = refused(parse_amount, text, "USD")
    assert "empty" in error.message
    assert error.hint is not None


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "12abc",
        "$50",
        "50 000",
        "50 k",
        "1b",
        "1B",
        "50kk",
        "k",
        "1.2.3",
        "_50",
        "50_",
        "50__000",
        "5_.0",
        "5._0",
        "+5",
        ".5",
        "5.",
        "1/2",
        "\u0665\u0660",
        "0x10",
        "50€",
    ],
)
def test_non_numeric_value_is_refused_quoting_the_input(text: str) -> None:
    error = refused(parse_amount, text, "USD")
    assert repr(text) in error.message
    assert error.hint is not None and "50k" in error.hint


@pytest.mark.parametrize("text", ["NaN", "nan", "sNaN", "Infinity", "inf", "-Infinity", "+inf"])
def test_nan_and_infinity_are_refused(text: str) -> None:
    error = refused(parse_amount, text, "USD")
    assert repr(text) in error.message


@pytest.mark.parametrize("text", ["1e5", "1E5", "1.5e3", "2e-2", "1e+5", "1_0e5"])
def test_exponent_notation_is_refused(text: str) -> None:
    error = refused(parse_amount, text, "USD")
    assert "exponent" in error.message
    assert repr(text) in error.message


@pytest.mark.parametrize("text", ["50,000", "50,000.00", "1,5", "1,000k"])
def test_commas_are_refused_with_a_hint_to_write_plain_digits(text: str) -> None:
    error = refused(parse_amount, text, "USD")
    assert "comma" in error.message
    assert repr(text) in error.message
    assert error.hint is not None and "50000" in error.hint and "50_000" in error.hint


@pytest.mark.parametrize(
    ("text", "currency", "places_hint"),
    [
        ("12.345", "USD", "USD has 2 decimals"),
        ("0.001", "EUR", "EUR has 2 decimals"),
        ("1.234567k", "USD", "USD has 2 decimals"),
        ("0.5", "JPY", "JPY has no decimals"),
        ("1.2345k", "JPY", "JPY has no decimals"),
        ("1.0000001m", "JPY", "JPY has no decimals"),
        ("1.2345", "KWD", "KWD has 3 decimals"),
        ("1.23456", "CLF", "CLF has 4 decimals"),
    ],
)
def test_more_decimals_than_the_currency_has_is_refused(text: str, currency: str, places_hint: str) -> None:
    error = refused(parse_amount, text, currency)
    assert "more decimals" in error.message
    assert repr(text) in error.message
    assert error.hint is not None and places_hint in error.hint


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("10000000000000.01", "USD"),
        ("10000000000001", "USD"),
        ("1000000000000001", "JPY"),
        ("2000000000000", "KWD"),
        ("1000000000m", "USD"),
        ("9" * 5000, "USD"),
    ],
)
def test_value_above_the_largest_is_refused(text: str, currency: str) -> None:
    error = refused(parse_amount, text, currency)
    assert error.message.startswith("value too large")
    # the value as typed, cut short when it would not fit on a line
    shown = repr(text) if len(text) <= 40 else f"{text[:24]!r}… ({len(text):,} characters)"
    assert error.message == f"value too large: {shown}"


def test_a_thousand_digit_fraction_is_refused_without_crashing() -> None:
    refused(parse_amount, "0." + "0" * 5000 + "1", "USD")


def test_amount_in_an_unknown_currency_is_refused() -> None:
    error = refused(parse_amount, "5", "XYZ")
    assert "'XYZ'" in error.message


# --- to_minor / from_minor ------------------------------------------------------------------------


def test_to_minor_counts_minor_units_exactly() -> None:
    assert to_minor(Decimal("18.00"), "EUR") == 1800
    assert to_minor(Decimal("18"), "EUR") == 1800
    assert to_minor(Decimal("0.01"), "USD") == 1
    assert to_minor(Decimal("5"), "JPY") == 5
    assert to_minor(Decimal("1.234"), "KWD") == 1234
    assert to_minor(Decimal("1.2345"), "CLF") == 12345
    assert to_minor(Decimal("1E+3"), "USD") == 100000
    assert to_minor(Decimal("-0"), "USD") == 0


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("0.001", "USD"), ("0.5", "JPY"), ("1.2345", "KWD"), ("1.23456", "CLF")],
)
def test_to_minor_refuses_an_amount_finer_than_the_currency(amount: str, currency: str) -> None:
    error = refused(to_minor, Decimal(amount), currency)
    assert repr(amount) in error.message


@pytest.mark.parametrize("amount", ["-0.01", "10000000000000.01", "NaN", "Infinity", "1E+100"])
def test_to_minor_refuses_an_amount_out_of_range(amount: str) -> None:
    error = refused(to_minor, Decimal(amount), "USD")
    assert repr(amount) in error.message


def test_from_minor_carries_the_currencys_decimals() -> None:
    eighteen = from_minor(1800, "EUR")
    assert eighteen == Decimal("18.00") and eighteen.as_tuple().exponent == -2
    five = from_minor(5, "JPY")
    assert five == Decimal("5") and five.as_tuple().exponent == 0
    assert str(from_minor(0, "USD")) == "0.00"
    assert str(from_minor(1, "KWD")) == "0.001"
    assert str(from_minor(12345, "CLF")) == "1.2345"


@given(st.sampled_from(CURRENCIES), st.integers(min_value=0, max_value=MAX_MINOR))
def test_minor_units_round_trip_through_decimal(currency: str, minor: int) -> None:
    amount = from_minor(minor, currency)
    assert amount.as_tuple().exponent == -MINOR_UNITS[currency]
    assert to_minor(amount, currency) == minor


@given(st.sampled_from(CURRENCIES), st.integers(min_value=0, max_value=MAX_MINOR))
def test_a_stored_amount_printed_and_typed_back_is_unchanged(currency: str, minor: int) -> None:
    amount = from_minor(minor, currency)
    assert parse_amount(str(amount), currency) == amount
    assert str(parse_amount(str(amount), currency)) == str(amount)


# --- rounding -------------------------------------------------------------------------------------


def test_rounding_is_half_away_from_zero() -> None:
    assert ROUNDING == ROUND_HALF_UP
    assert round_to_minor(Decimal("2.345"), "USD") == Decimal("2.35")
    assert round_to_minor(Decimal("2.344"), "USD") == Decimal("2.34")
    assert round_to_minor(Decimal("-2.345"), "USD") == Decimal("-2.35")
    assert round_to_minor(Decimal("0.125"), "USD") == Decimal("0.13")  # not banker's 0.12
    assert round_to_minor(Decimal("2.5"), "JPY") == Decimal("3")
    assert round_to_minor(Decimal("1.0005"), "KWD") == Decimal("1.001")
    assert round_to_minor(Decimal("7"), "USD").as_tuple().exponent == -2


def test_minor_units_round_half_away_from_zero_to_a_whole_unit() -> None:
    assert [round_minor(Decimal(x)) for x in ("2.5", "2.4999", "-2.5", "0.5", "7")] == [3, 2, -3, 1, 7]
    refused(round_minor, Decimal("Infinity"))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12))
def test_rounding_in_minor_units_and_in_a_currency_agree(amount: Decimal) -> None:
    """Billing rounds counts of minor units, forecasts round amounts: one rule for both."""
    assert from_minor(round_minor(amount * 100), "USD") == round_to_minor(amount, "USD")


def test_rounding_a_very_long_amount_does_not_fail() -> None:
    long_amount = Decimal("1" * 40 + ".5")
    assert round_to_minor(long_amount, "JPY") == Decimal("1" * 39 + "2")


def test_rounding_a_non_finite_amount_is_refused() -> None:
    refused(round_to_minor, Decimal("NaN"), "USD")


# --- forecast_minor -------------------------------------------------------------------------------


def test_forecast_is_value_times_probability_rounded_half_up() -> None:
    assert forecast_minor(1000, 50) == 500
    assert forecast_minor(1, 50) == 1  # 0.5 rounds up
    assert forecast_minor(1, 49) == 0
    assert forecast_minor(3, 50) == 2  # 1.5 rounds up
    assert forecast_minor(12345, 33) == 4074  # 4073.85
    assert forecast_minor(MAX_MINOR, 100) == MAX_MINOR
    assert forecast_minor(MAX_MINOR, 0) == 0


@pytest.mark.parametrize(("value", "probability"), [(-1, 50), (100, -1), (100, 101)])
def test_forecast_refuses_negative_value_or_probability_out_of_range(value: int, probability: int) -> None:
    refused(forecast_minor, value, probability)


@given(st.integers(min_value=0, max_value=MAX_MINOR), st.integers(min_value=0, max_value=100))
def test_forecast_matches_decimal_half_up_rounding(value: int, probability: int) -> None:
    expected = int((Decimal(value) * probability / 100).quantize(Decimal(1), ROUND_HALF_UP))
    assert forecast_minor(value, probability) == expected


@given(st.integers(min_value=0, max_value=MAX_MINOR), st.integers(min_value=0, max_value=100))
def test_forecast_never_exceeds_the_value(value: int, probability: int) -> None:
    forecast = forecast_minor(value, probability)
    assert 0 <= forecast <= value
    assert 2 * value * probability < 2**63  # the SQL mirror of the formula fits a signed int64


# --- parse_probability ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("100", 100), ("40", 40), ("40%", 40), (" 40 % ", 40), ("  7 ", 7), ("100%", 100), ("007", 7)],
)
def test_probability_is_a_whole_percentage(text: str, expected: int) -> None:
    assert parse_probability(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "150",
        "101",
        "-1",
        "12.5",
        "abc",
        "",
        "   ",
        "%",
        "40%%",
        "4 0",
        "1e2",
        "+5",
        "\u0665",
        "0" * 5000 + "1" * 5000,
    ],
)
def test_probability_outside_0_to_100_or_not_whole_is_refused(text: str) -> None:
    error = refused(parse_probability, text)
    assert error.message.startswith("probability must be a whole number from 0 to 100")
    assert repr(text.strip()) in error.message


# --- format_money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("12000.00", "12,000.00"),
        ("1500", "1,500"),
        ("0.00", "0.00"),
        ("999.5", "999.5"),
        ("1234567.891", "1,234,567.891"),
        ("1E+3", "1,000"),
        ("-1500.00", "-1,500.00"),
    ],
)
def test_money_is_formatted_with_thousands_separators_and_its_own_decimals(amount: str, shown: str) -> None:
    assert format_money(Decimal(amount)) == shown
