"""The service catalog (opp service …) and a deal's billable lines (opp bill add/list/remove).

A line's amount is quantity × unit price rounded half up to the currency's minor unit, its tax is that
amount × the tax rate rounded half up, per line; subtotal, tax and total are sums of the lines.
"""

from __future__ import annotations

import json

import pytest

LINE_KEYS = [
    "line",
    "description",
    "service",
    "quantity",
    "unit_price",
    "tax_rate",
    "amount",
    "tax",
    "invoice",
    "conversion",
]


def deal(opp, *args, **env):
    """Create a deal for Initech and return its id."""
    return opp.json("create", "Deal", "--org", "Initech", *args, **env)["id"]


def exact(outcome):
    """JSON with money as its exact text."""
    return json.loads(outcome.stdout, parse_float=str)


def bill(opp, *args, **env):
    return exact(opp("bill", *args, "--format", "json", **env))


def line_figures(billables):
    return [
        (line["quantity"], line["unit_price"], line["amount"], line["tax"]) for line in billables["lines"]
    ]


def sums(billables):
    return billables["subtotal"], billables["tax"], billables["total"]


@pytest.fixture
def catalog(opp):
    """Initech's deal 1 (USD) and a consulting hour at 333.33 USD with 25% tax."""
    deal(opp, "--value", "5000")
    opp(
        "service", "add", "CONSULT-H", "--name", "Consulting hour", "--price", "333.33",
        "--currency", "USD", "--unit", "hour", "--tax", "25",
    )  # fmt: skip
    return opp


# -- the service catalog -------------------------------------------------------------------------------


def test_service_add_prints_the_service(opp):
    out = opp(
        "service", "add", "CONSULT-H", "--name", "Consulting hour", "--price", "333.3",
        "--currency", "usd", "--unit", "hour", "--tax", "12.5%", "--format", "json",
    )  # fmt: skip
    assert out.stdout == (
        '{"code": "CONSULT-H", "name": "Consulting hour", "price": 333.30, "currency": "USD", '
        '"unit": "hour", "tax_rate": 12.5, "retired": false}\n'
    )


def test_service_add_defaults_to_no_unit_and_no_tax(opp):
    service = exact(opp("service", "add", "LIC", "--name", "Licence", "--price", "1200", "--currency", "JPY",
                        "--format", "json"))  # fmt: skip
    assert service == {
        "code": "LIC",
        "name": "Licence",
        "price": 1200,
        "currency": "JPY",
        "unit": None,
        "tax_rate": 0,
        "retired": False,
    }


def test_service_list_and_show(catalog):
    catalog("service", "add", "AUDIT", "--name", "Audit", "--price", "1.5", "--currency", "KWD")
    assert [s["code"] for s in catalog.json("service", "list")] == ["AUDIT", "CONSULT-H"]
    assert exact(catalog("service", "show", "audit", "--format", "json"))["price"] == "1.500"
    lines = catalog("service", "list").stdout.splitlines()
    assert lines[0].split() == ["code", "name", "price", "cur", "unit", "tax", "%", "retired"]
    assert lines[3].split() == ["CONSULT-H", "Consulting", "hour", "333.33", "USD", "hour", "25", "no"]


def test_retired_services_leave_the_list_but_not_the_lines_that_used_them(catalog, unchanged):
    catalog("bill", "add", 1, "--service", "CONSULT-H")
    retired = catalog.json("service", "retire", "consult-h")
    assert retired["retired"] is True
    assert catalog.json("service", "list") == []
    assert [s["code"] for s in catalog.json("service", "list", "--all")] == ["CONSULT-H"]
    check = unchanged()
    assert "service CONSULT-H is retired" in catalog.fails(4, "bill", "add", 1, "--service", "CONSULT-H")
    check()
    kept = bill(catalog, "list", 1)["lines"]
    assert [(line["service"], line["description"], line["amount"]) for line in kept] == [
        ("CONSULT-H", "Consulting hour", "333.33")
    ]


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (4, ["CONSULT-H"], "already exists"),
        (4, ["consult-h"], "already exists"),  # codes are case-insensitive
        (2, ["bad code"], "invalid service code"),
        (2, ["-X"], ""),  # looks like an option
        (2, ["X/1"], "invalid service code"),
        (2, ["NEW", "--price", "1.234"], "more decimals than USD allows"),
        (2, ["NEW", "--currency", "JPY", "--price", "1.5"], "more decimals than JPY allows"),
        (2, ["NEW", "--price", "-1"], ""),
        (2, ["NEW", "--price", "abc"], "not a number"),
        (2, ["NEW", "--currency", "XYZ"], "unknown currency 'XYZ'"),
        (2, ["NEW", "--tax", "150"], "tax must be from 0 to 100"),
        (2, ["NEW", "--tax", "12.345"], "more than 2 decimals"),
        (2, ["NEW", "--name", " "], ""),
    ],
)
def test_service_add_refuses(catalog, unchanged, code, args, expected):
    given = {"--name": "Thing", "--price": "10", "--currency": "USD"}
    options = args[1:]
    for flag in list(given):
        if flag in options:
            del given[flag]
    command = ["service", "add", args[0], *options, *[item for pair in given.items() for item in pair]]
    check = unchanged()
    assert expected in catalog.fails(code, *command)
    check()


@pytest.mark.parametrize("command", ["show", "retire"])
def test_an_unknown_service_is_not_found(catalog, unchanged, command):
    check = unchanged()
    assert "no service 'NOPE'" in catalog.fails(3, "service", command, "NOPE")
    check()


# -- adding and listing lines ---------------------------------------------------------------------------


def test_bill_list_has_the_contract_shape_and_exact_money(catalog):
    catalog("bill", "add", 1, "--service", "CONSULT-H", "--qty", "1.5")
    catalog("bill", "add", 1, "--item", "Travel", "--price", "0.10", "--qty", "3")
    out = catalog("bill", "list", 1, "--format", "json")
    # 333.33 × 1.5 = 499.995 → 500.00, tax 25% → 125.00; 0.10 × 3 = 0.30 (never 0.30000000000000004), tax 0
    assert out.stdout == (
        '{"opportunity_id": 1, "currency": "USD", "lines": ['
        '{"line": 1, "description": "Consulting hour", "service": "CONSULT-H", "quantity": 1.5, '
        '"unit_price": 333.33, "tax_rate": 25, "amount": 500.00, "tax": 125.00, "invoice": null, '
        '"conversion": null}, '
        '{"line": 2, "description": "Travel", "service": null, "quantity": 3, '
        '"unit_price": 0.10, "tax_rate": 0, "amount": 0.30, "tax": 0.00, "invoice": null, '
        '"conversion": null}], '
        '"subtotal": 500.30, "tax": 125.00, "total": 625.30}\n'
    )
    assert list(json.loads(out.stdout)) == ["opportunity_id", "currency", "lines", "subtotal", "tax", "total"]
    assert list(json.loads(out.stdout)["lines"][0]) == LINE_KEYS


def test_bill_add_prints_every_line_and_the_totals(catalog):
    added = bill(catalog, "add", 1, "--item", "Workshop", "--price", "500", "--tax", "20")
    assert line_figures(added) == [(1, "500.00", "500.00", "100.00")]
    assert sums(added) == ("500.00", "100.00", "600.00")
    assert sums(bill(catalog, "add", 1, "--service", "CONSULT-H")) == ("833.33", "183.33", "1016.66")
    # 333.33 × 25% = 83.3325 → 83.33; 100.00 + 83.33 = 183.33; 833.33 + 183.33 = 1016.66


def test_an_empty_bill(catalog):
    assert bill(catalog, "list", 1) == {
        "opportunity_id": 1,
        "currency": "USD",
        "lines": [],
        "subtotal": "0.00",
        "tax": "0.00",
        "total": "0.00",
    }


def test_the_bill_table_shows_lines_and_totals(catalog):
    catalog("bill", "add", 1, "--service", "CONSULT-H", "--qty", "1.5")
    lines = catalog("bill", "list", 1).stdout.splitlines()
    assert lines[2].split() == [
        "1",
        "Consulting",
        "hour",
        "CONSULT-H",
        "1.5",
        "333.33",
        "25",
        "500.00",
        "125.00",
    ]
    assert lines[-3].split() == ["subtotal", "USD", "tax", "USD", "total", "USD"]
    assert lines[-1].split() == ["500.00", "125.00", "625.00"]


def test_tax_is_rounded_per_line(catalog):
    for _ in range(2):
        catalog("bill", "add", 1, "--item", "Stamp", "--price", "0.10", "--tax", "25")
    # each line: 0.10 × 25% = 0.025 → 0.03; two lines 0.06 (25% of the subtotal 0.20 would be 0.05)
    assert sums(bill(catalog, "list", 1)) == ("0.20", "0.06", "0.26")


def test_amounts_are_rounded_per_line_half_up(catalog):
    catalog("bill", "add", 1, "--item", "A", "--price", "0.01", "--qty", "0.5")  # 0.005 → 0.01
    catalog("bill", "add", 1, "--item", "B", "--price", "0.01", "--qty", "0.5")  # 0.005 → 0.01
    catalog("bill", "add", 1, "--item", "C", "--price", "0.03", "--qty", "0.25")  # 0.0075 → 0.01
    catalog("bill", "add", 1, "--item", "D", "--price", "1.00", "--qty", "0.004")  # 0.004 → 0.00
    result = bill(catalog, "list", 1)
    assert [line["amount"] for line in result["lines"]] == ["0.01", "0.01", "0.01", "0.00"]
    assert sums(result) == ("0.03", "0.00", "0.03")


def test_fractional_quantities(catalog):
    result = bill(catalog, "add", 1, "--service", "CONSULT-H", "--qty", "0.125")
    # 333.33 × 0.125 = 41.66625 → 41.67; tax 25% = 10.4175 → 10.42
    assert line_figures(result) == [("0.125", "333.33", "41.67", "10.42")]
    assert (
        bill(catalog, "add", 1, "--item", "X", "--price", "1", "--qty", "2.500")["lines"][1]["quantity"]
        == "2.5"
    )


def test_yen_lines_have_no_decimals(opp):
    yen = deal(opp, "--value", "100000", "--currency", "JPY")
    opp("bill", "add", yen, "--item", "Licence", "--price", "1234", "--qty", "1.5", "--tax", "10")
    out = opp("bill", "list", yen, "--format", "json").stdout
    # 1234 × 1.5 = 1851; tax 10% = 185.1 → 185; total 2036
    assert '"unit_price": 1234, "tax_rate": 10, "amount": 1851, "tax": 185,' in out
    assert out.endswith('"subtotal": 1851, "tax": 185, "total": 2036}\n')
    assert "more decimals than JPY allows" in opp.fails(
        2, "bill", "add", yen, "--item", "X", "--price", "0.5"
    )


def test_krone_lines(opp):
    nok = deal(opp, "--value", "10000", "--currency", "NOK")
    opp(
        "service", "add", "HOUR-NO", "--name", "Time", "--price", "999.99", "--currency", "NOK", "--tax", "15"
    )
    result = bill(opp, "add", nok, "--service", "hour-no", "--qty", "0.125")
    # 999.99 × 0.125 = 124.99875 → 125.00; tax 15% = 18.75
    assert result["currency"] == "NOK"
    assert line_figures(result) == [("0.125", "999.99", "125.00", "18.75")]
    assert sums(result) == ("125.00", "18.75", "143.75")


def test_dinar_lines_have_three_decimals(opp):
    kwd = deal(opp, "--value", "100", "--currency", "KWD")
    opp("bill", "add", kwd, "--item", "Support", "--price", "1.234", "--qty", "2.5", "--tax", "5")
    opp("bill", "add", kwd, "--item", "Extra", "--price", "1.234", "--qty", "0.333")
    result = bill(opp, "list", kwd)
    # 1.234 × 2.5 = 3.085, tax 5% = 0.15425 → 0.154; 1.234 × 0.333 = 0.410922 → 0.411, no tax
    assert line_figures(result) == [("2.5", "1.234", "3.085", "0.154"), ("0.333", "1.234", "0.411", "0.000")]
    assert sums(result) == ("3.496", "0.154", "3.650")


def test_lines_can_be_added_to_won_deals(opp):
    won = deal(opp, "--value", "100", "--stage", "won")
    assert sums(bill(opp, "add", won, "--item", "Setup", "--price", "100")) == ("100.00", "0.00", "100.00")


# -- removing lines and history --------------------------------------------------------------------------


def test_remove_drops_the_line_and_keeps_the_others_numbers(catalog):
    catalog("bill", "add", 1, "--item", "A", "--price", "1")
    catalog("bill", "add", 1, "--item", "B", "--price", "2")
    catalog("bill", "add", 1, "--item", "C", "--price", "4")
    result = bill(catalog, "remove", 1, 2)
    assert [(line["line"], line["description"]) for line in result["lines"]] == [(1, "A"), (3, "C")]
    assert sums(result) == ("5.00", "0.00", "5.00")


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (3, [1, 9], "opportunity 1 has no line 9"),
        (3, [99, 1], "no opportunity 99"),
        (2, [1, "abc"], "line"),
        (2, [1, 0], "line"),
        (2, ["x", 1], "opportunity id"),
    ],
)
def test_remove_refuses(catalog, unchanged, code, args, expected):
    catalog("bill", "add", 1, "--item", "A", "--price", "1")
    check = unchanged()
    assert expected in catalog.fails(code, "bill", "remove", *args)
    check()


def test_list_of_an_unknown_deal_is_not_found(catalog):
    assert "no opportunity 99" in catalog.fails(3, "bill", "list", 99)


def test_history_records_billable_events(catalog):
    catalog("bill", "add", 1, "--service", "CONSULT-H", "--qty", "1.5")
    catalog("bill", "remove", 1, 1, OPP_NOW="2026-03-11T09:00:00Z")
    events = [e for e in catalog.json("history", 1) if e["action"] == "billable"]
    assert [(e["field"], e["old"], e["new"], e["actor"], e["at"]) for e in events] == [
        ("line", None, "1", "dana", "2026-03-10T08:30:00Z"),
        ("line", "1", None, "dana", "2026-03-11T09:00:00Z"),
    ]
    assert events[0]["note"] == "added Consulting hour: 1.5 × 333.33 = 500.00 USD"
    assert events[1]["note"] == "removed Consulting hour"


# -- refused lines ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (3, [99, "--item", "X", "--price", "1"], "no opportunity 99"),
        (2, ["abc", "--item", "X", "--price", "1"], "opportunity id"),
        (2, [1], "either --service CODE or --item"),
        (2, [1, "--service", "CONSULT-H", "--item", "X", "--price", "1"], "either --service CODE or --item"),
        (2, [1, "--item", "X"], "--item needs --price"),
        (2, [1, "--service", "CONSULT-H", "--price", "1"], "--price and --tax go with --item"),
        (2, [1, "--service", "CONSULT-H", "--tax", "10"], "--price and --tax go with --item"),
        (2, [1, "--item", " ", "--price", "1"], "item"),
        (2, [1, "--item", "X", "--price", "1.234"], "more decimals than USD allows"),
        (2, [1, "--item", "X", "--price", "-1"], "negative"),
        (2, [1, "--item", "X", "--price", "1", "--qty", "-1"], "quantity"),
        (2, [1, "--item", "X", "--price", "1", "--qty", "0"], "quantity must be more than 0"),
        (2, [1, "--item", "X", "--price", "1", "--qty", "0.000"], "quantity must be more than 0"),
        (2, [1, "--item", "X", "--price", "1", "--qty", "abc"], "quantity"),
        (2, [1, "--item", "X", "--price", "1", "--qty", "1.2345"], "more than 3 decimals"),
        (2, [1, "--item", "X", "--price", "1", "--qty", "1e3"], "quantity"),
        (2, [1, "--item", "X", "--price", "1", "--qty", "1" + "0" * 30], "quantity"),
        (2, [1, "--item", "X", "--price", "1", "--tax", "150"], "tax must be from 0 to 100"),
        (2, [1, "--item", "X", "--price", "1", "--tax", "-5"], "tax"),
        (2, [1, "--item", "X", "--price", "1", "--tax", "abc"], "tax"),
        (2, [1, "--item", "X", "--price", "1", "--tax", "1" + "0" * 30], "tax"),
        (3, [1, "--service", "NOPE"], "no service 'NOPE'"),
    ],
)
def test_bad_lines_are_refused(catalog, unchanged, code, args, expected):
    check = unchanged()
    assert expected in catalog.fails(code, "bill", "add", *args)
    check()


def test_a_lost_deal_takes_no_lines(opp, unchanged):
    lost = deal(opp, "--value", "100", "--stage", "lost")
    check = unchanged()
    assert f"opportunity {lost} is closed-lost" in opp.fails(
        4, "bill", "add", lost, "--item", "X", "--price", "1"
    )
    check()


# -- catalog prices in another currency -----------------------------------------------------------------


def test_a_catalog_price_in_another_currency_is_converted_at_the_rate_in_force_today(catalog):
    catalog(
        "service", "add", "EU-DAY", "--name", "Day", "--price", "800.05", "--currency", "EUR", "--tax", "10"
    )
    catalog("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    catalog("rate", "set", "EUR", "USD", "1.0834", "--date", "2026-03-01")  # in force on 2026-03-10
    catalog("rate", "set", "EUR", "USD", "2", "--date", "2026-03-11")  # not yet
    result = bill(catalog, "add", 1, "--service", "EU-DAY", "--qty", "1.5")
    line = result["lines"][0]
    # 800.05 × 1.0834 = 866.77417 → 866.77 per unit (rounded once, half up); × 1.5 = 1300.155 → 1300.16;
    # tax 10% = 130.016 → 130.02
    assert (line["unit_price"], line["amount"], line["tax"]) == ("866.77", "1300.16", "130.02")
    assert line["conversion"] == {"currency": "EUR", "price": "800.05", "pair": "EUR/USD", "rate": "1.0834"}
    assert result["currency"] == "USD"
    note = next(e["note"] for e in catalog.json("history", 1) if e["action"] == "billable")
    assert note == "added Day: 1.5 × 866.77 = 1300.16 USD (800.05 EUR at EUR/USD 1.0834)"


def test_the_stored_rate_stays_when_rates_change_later(catalog):
    catalog("service", "add", "EU-DAY", "--name", "Day", "--price", "800", "--currency", "EUR")
    catalog("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    catalog("bill", "add", 1, "--service", "EU-DAY")
    catalog("rate", "set", "EUR", "USD", "1.5", "--date", "2026-01-01")  # replaces the rate of that day
    line = bill(catalog, "list", 1)["lines"][0]
    assert (line["unit_price"], line["conversion"]["rate"]) == ("880.00", "1.1")
    assert bill(catalog, "add", 1, "--service", "EU-DAY")["lines"][1]["unit_price"] == "1200.00"


def test_the_inverse_rate_converts_when_only_the_opposite_pair_is_known(catalog):
    catalog("service", "add", "EU-DAY", "--name", "Day", "--price", "126", "--currency", "EUR")
    catalog("rate", "set", "USD", "EUR", "1.44", "--date", "2026-01-01")
    line = bill(catalog, "add", 1, "--service", "EU-DAY")["lines"][0]
    # 126 / 1.44 = 87.5 exactly: one exact division, so the half rounds up
    assert line["unit_price"] == "87.50"
    assert line["conversion"] == {"currency": "EUR", "price": "126.00", "pair": "USD/EUR", "rate": "1.44"}


def test_conversion_follows_the_minor_units_of_both_currencies(opp):
    yen = deal(opp, "--value", "100000", "--currency", "JPY")
    dinar = deal(opp, "--value", "100", "--currency", "KWD")
    opp("service", "add", "US-H", "--name", "Hour", "--price", "99.99", "--currency", "USD", "--tax", "8")
    opp("rate", "set", "USD", "JPY", "149.555", "--date", "2026-01-01")
    opp("rate", "set", "USD", "KWD", "0.30755", "--date", "2026-01-01")
    # 99.99 × 149.555 = 14954.00445 → 14954 JPY; tax 8% = 1196.32 → 1196
    assert line_figures(bill(opp, "add", yen, "--service", "US-H")) == [(1, 14954, 14954, 1196)]
    # 99.99 × 0.30755 = 30.7519245 → 30.752 KWD; × 2.5 = 76.88 → 76.880; tax 8% = 6.1504 → 6.150
    assert line_figures(bill(opp, "add", dinar, "--service", "US-H", "--qty", "2.5")) == [
        ("2.5", "30.752", "76.880", "6.150")
    ]


def test_a_missing_rate_is_refused_naming_the_pair_and_the_day(catalog, unchanged):
    catalog("service", "add", "EU-DAY", "--name", "Day", "--price", "800", "--currency", "EUR")
    catalog("rate", "set", "EUR", "USD", "1.1", "--date", "2026-03-11")  # from tomorrow only
    check = unchanged()
    line = catalog.fails(4, "bill", "add", 1, "--service", "EU-DAY")
    assert "no exchange rate from EUR to USD in force on 2026-03-10" in line
    check()


# -- line numbers, editing the catalog -------------------------------------------------------------------


def test_a_removed_line_number_is_never_given_again(catalog):
    catalog("bill", "add", 1, "--item", "A", "--price", "1")
    catalog("bill", "add", 1, "--item", "B", "--price", "2")
    catalog("bill", "remove", 1, 2)  # the last line
    result = bill(catalog, "add", 1, "--item", "C", "--price", "4")
    assert [(line["line"], line["description"]) for line in result["lines"]] == [(1, "A"), (3, "C")]
    events = [
        (e["old"], e["new"], e["note"]) for e in catalog.json("history", 1) if e["action"] == "billable"
    ]
    assert [(old, new) for old, new, _ in events] == [(None, "1"), (None, "2"), ("2", None), (None, "3")]
    assert "already" not in catalog.fails(3, "bill", "remove", 1, 2)  # removed lines stay removed


def test_a_quantity_above_the_limit_says_so(catalog, unchanged):
    check = unchanged()
    line = catalog.fails(2, "bill", "add", 1, "--item", "X", "--price", "1", "--qty", "1000000000.001")
    assert "quantity must be at most 1,000,000,000" in line
    check()
    assert bill(catalog, "add", 1, "--item", "X", "--price", "1", "--qty", "1000000000")["total"] == (
        "1000000000.00"
    )


def test_a_line_too_large_to_store_is_refused(catalog, unchanged):
    check = unchanged()
    line = catalog.fails(2, "bill", "add", 1, "--item", "X", "--price", "9000000000000", "--qty", "1000")
    assert "too large" in line
    check()


def test_service_edit_changes_future_lines_only(catalog):
    catalog("bill", "add", 1, "--service", "CONSULT-H")
    edited = exact(catalog("service", "edit", "consult-h", "--price", "350", "--tax", "20", "--name",
                           "Senior hour", "--unit", "", "--format", "json"))  # fmt: skip
    assert edited == {
        "code": "CONSULT-H",
        "name": "Senior hour",
        "price": "350.00",
        "currency": "USD",
        "unit": None,
        "tax_rate": 20,
        "retired": False,
    }
    result = bill(catalog, "add", 1, "--service", "CONSULT-H")
    assert [(line["description"], line["unit_price"], line["tax"]) for line in result["lines"]] == [
        ("Consulting hour", "333.33", "83.33"),
        ("Senior hour", "350.00", "70.00"),
    ]


def test_service_edit_of_the_currency_keeps_a_price_that_fits(catalog):
    catalog("service", "add", "LIC", "--name", "Licence", "--price", "1200", "--currency", "USD")
    assert exact(catalog("service", "edit", "LIC", "--currency", "jpy", "--format", "json"))["price"] == 1200
    assert (
        exact(catalog("service", "edit", "LIC", "--currency", "KWD", "--format", "json"))["price"]
        == "1200.000"
    )


@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        (3, ["NOPE", "--price", "1"], "no service 'NOPE'"),
        (2, ["CONSULT-H", "--price", "-1"], "negative"),
        (2, ["CONSULT-H", "--currency", "JPY"], "cannot be expressed in JPY"),
        (2, ["CONSULT-H", "--currency", "XYZ"], "unknown currency"),
        (2, ["CONSULT-H", "--tax", "101"], "tax must be from 0 to 100"),
        (2, ["CONSULT-H", "--name", " "], "service name"),
        (4, ["RETIRED", "--price", "1"], "service RETIRED is retired"),
    ],
)
def test_service_edit_refuses(catalog, unchanged, code, args, expected):
    catalog("service", "add", "RETIRED", "--name", "Old", "--price", "1", "--currency", "USD")
    catalog("service", "retire", "RETIRED")
    check = unchanged()
    assert expected in catalog.fails(code, "service", "edit", *args)
    check()


def test_a_retired_code_cannot_be_added_again(catalog, unchanged):
    catalog("service", "retire", "CONSULT-H")
    check = unchanged()
    line = catalog.fails(
        4, "service", "add", "consult-h", "--name", "New", "--price", "1", "--currency", "USD"
    )
    assert "already exists (retired" in line
    check()


def test_a_deal_with_lines_keeps_its_currency(catalog, unchanged):
    catalog("bill", "add", 1, "--item", "A", "--price", "1")
    check = unchanged()
    assert "has billable lines in USD" in catalog.fails(4, "edit", 1, "--currency", "EUR")
    check()
    catalog("bill", "remove", 1, 1)
    assert catalog.json("edit", 1, "--currency", "EUR")["currency"] == "EUR"
