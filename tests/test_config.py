"""opp config list / get / set: team-wide settings kept in the database."""

from __future__ import annotations

import pytest


def test_currency_defaults_to_usd(cli):
    setting = cli.json("config", "get", "currency")
    assert setting["key"] == "currency"
    assert setting["value"] == "USD"
    assert setting["default"] == "USD"
    assert setting["description"]


def test_list_has_every_setting(cli):
    listed = cli.json("config", "list")
    by_key = {s["key"]: s for s in listed}
    assert {"currency", "reporting_currency"} <= set(by_key)
    assert by_key["currency"]["value"] == "USD"
    assert by_key["reporting_currency"]["value"] is None


def test_list_as_a_table(cli):
    out = cli("config", "list").stdout
    assert out.splitlines()[0].split() == ["key", "value", "description"]
    assert "currency" in out


def test_set_currency_is_normalized_and_used_by_new_deals(opp):
    assert opp.json("config", "set", "currency", " eur ")["value"] == "EUR"
    assert opp.json("config", "get", "CURRENCY")["value"] == "EUR"
    assert opp.json("create", "Deal", "--org", "Initech", "--value", "10")["currency"] == "EUR"
    assert opp.json("create", "Deal 2", "--org", "Initech", "--currency", "jpy")["currency"] == "JPY"


def test_the_setting_is_shared_by_every_user(opp):
    opp("config", "set", "currency", "GBP")
    assert opp.json("config", "get", "currency", OPP_USER="someone-else")["value"] == "GBP"


def test_setting_twice_overwrites(cli):
    cli("config", "set", "currency", "EUR")
    cli("config", "set", "currency", "NOK")
    assert cli.json("config", "get", "currency")["value"] == "NOK"


@pytest.mark.parametrize("empty", ["", "   "])
def test_set_empty_returns_to_the_default(opp, empty):
    opp("config", "set", "currency", "EUR")
    assert opp.json("config", "set", "currency", empty)["value"] == "USD"
    assert opp.json("config", "get", "currency")["value"] == "USD"
    assert opp.json("create", "Deal", "--org", "Initech")["currency"] == "USD"


def test_reporting_currency_is_unset_until_set(cli):
    assert cli.json("config", "get", "reporting_currency")["value"] is None
    assert cli.json("config", "set", "reporting_currency", "chf")["value"] == "CHF"
    assert cli.json("config", "get", "reporting_currency")["value"] == "CHF"
    assert cli.json("config", "set", "reporting_currency", "")["value"] is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("set", "currency", "XYZ"), "unknown currency 'XYZ'"),
        (("set", "currency", "euro"), "unknown currency 'euro'"),
        (("set", "reporting_currency", "US"), "unknown currency 'US'"),
        (("set", "colour", "blue"), "unknown setting 'colour'"),
        (("get", "colour"), "unknown setting 'colour'"),
    ],
)
def test_bad_keys_and_values_are_invalid(cli, unchanged, args, expected):
    cli("config", "set", "currency", "EUR")
    check = unchanged()
    line = cli.fails(2, "config", *args)
    assert expected in line
    check()
