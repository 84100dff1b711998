"""Quotas (`opp quota set|list|remove`) and `opp report attainment`: every figure, its rounding and
its nulls, pace against OPP_NOW, conversion, and the errors.

The default clock is 2026-03-10 (conftest's NOW): day 69 of 2026Q1's 90, day 10 of March's 31.
Money is read with ``parse_float=str`` so that figures compare as their exact JSON text.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from opp.core.analytics.attainment import Attainment, attainment
from opp.core.analytics.quotas import list_quotas, set_quota
from opp.core.pipeline.scope import Scope

KEYS = ["key", "quota", "won", "attainment", "gap", "open_value", "open_forecast", "coverage", "pace"]


def deal(opp, *args, title="Deal", **env):
    return opp.json("create", title, "--org", "Initech", *args, **env)["id"]


def report(opp, *args, **env):
    outcome = opp("report", "attainment", *args, "-f", "json", **env)
    return json.loads(outcome.stdout, parse_float=str)


@pytest.fixture
def team(opp):
    opp("user", "add", "lee")
    opp("user", "add", "kim")
    return opp


# -- quotas --------------------------------------------------------------------------------------------


def test_quota_set_list_and_remove(team):
    assert team.json("quota", "set", "dana", "2026Q1", "100k") == {
        "user": "dana",
        "period": "2026Q1",
        "amount": 100000.0,
        "currency": "USD",
    }
    team("quota", "set", "lee", "this-month", "5000.50", "--currency", "eur")
    team("quota", "set", "dana", "2026", "1.2m")
    listed = json.loads(team("quota", "list", "-f", "json").stdout, parse_float=str)
    assert listed == [
        {"user": "dana", "period": "2026", "amount": "1200000.00", "currency": "USD"},
        {"user": "lee", "period": "2026-03", "amount": "5000.50", "currency": "EUR"},
        {"user": "dana", "period": "2026Q1", "amount": "100000.00", "currency": "USD"},
    ]
    assert [q["period"] for q in team.json("quota", "list", "--user", "dana")] == ["2026", "2026Q1"]
    assert [q["user"] for q in team.json("quota", "list", "--period", "this-month")] == ["lee"]
    removed = team.json("quota", "remove", "lee", "2026-03")
    assert removed["amount"] == 5000.5 and removed["currency"] == "EUR"
    assert len(team.json("quota", "list")) == 2


def test_setting_a_quota_again_replaces_it(team):
    team("quota", "set", "dana", "2026Q1", "100")
    team("quota", "set", "DANA", "2026q1", "250", "--currency", "GBP")
    assert team.json("quota", "list") == [
        {"user": "dana", "period": "2026Q1", "amount": 250.0, "currency": "GBP"}
    ]


def test_quota_list_as_a_table_and_csv(team):
    team("quota", "set", "dana", "2026Q1", "1000")
    assert team("quota", "list", "-f", "csv").stdout.splitlines() == [
        "user,period,amount,currency",
        "dana,2026Q1,1000.00,USD",
    ]
    assert "1,000.00" in team("quota", "list").stdout
    assert team("quota", "list", "-f", "csv", "--user", "lee").stdout == "user,period,amount,currency\n"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("set", "dana", "2026-03-05", "100"), 2, "unrecognised period"),
        (("set", "dana", "2026Q5", "100"), 2, "does not exist"),
        (("set", "dana", "soon", "100"), 2, "unrecognised period"),
        (("set", "dana", "2026Q1", "lots"), 2, ""),
        (("set", "dana", "2026Q1", "--", "-5"), 2, "negative"),
        (("set", "dana", "2026Q1", "100.001"), 2, ""),
        (("set", "dana", "2026Q1", "100", "--currency", "XYZ"), 2, "XYZ"),
        (("set", "nobody", "2026Q1", "100"), 3, "no user 'nobody'"),
        (("remove", "dana", "2026Q1"), 3, "dana has no quota for 2026Q1"),
        (("remove", "nobody", "2026Q1"), 3, "no user"),
        (("remove", "dana", "last-week"), 2, "unrecognised period"),
        (("list", "--user", "nobody"), 3, "no user"),
    ],
)
def test_bad_quota_input(team, unchanged, args, code, says):
    check = unchanged()
    assert says in team.fails(code, "quota", *args)
    check()


def test_quotas_are_not_deal_changes_so_undo_leaves_them(team):
    deal_id = deal(team)
    team("quota", "set", "dana", "2026Q1", "100")
    undone = team.json("undo")  # the last change to a deal: its creation
    assert undone["removed"] == [deal_id]
    assert len(team.json("quota", "list")) == 1


def test_quotas_in_the_core(team, ctx):
    set_quota(ctx, "lee", "2026-04", "300", currency="JPY")
    [found] = list_quotas(ctx, user="lee")
    assert (found.period, found.amount, found.currency) == ("2026-04", Decimal("300"), "JPY")


# -- attainment ----------------------------------------------------------------------------------------


def test_attainment_figures_per_user_and_in_total(team):
    team("quota", "set", "dana", "2026Q1", "1000")
    team("quota", "set", "lee", "2026Q1", "3000")
    team("quota", "set", "kim", "2026Q2", "9999")  # another period: no row
    team("quota", "set", "kim", "2026-03", "9999")  # a month inside it: not exactly P, no row
    # dana: won 400 in the quarter; open 600 (negotiation, 450.00) and 100 (lead, 15.00) closing in it
    deal(team, "--value", "400", "--stage", "won", "--assign", "dana")
    deal(team, "--value", "600", "--stage", "negotiation", "--close", "2026-03-31", "--assign", "dana")
    deal(team, "--value", "100", "--close", "2026-01-15", "--assign", "dana")
    deal(team, "--value", "5000", "--close", "2026-04-01", "--assign", "dana")  # next quarter: out
    deal(team, "--value", "800", "--stage", "lost", "--assign", "dana")  # lost: out
    # lee: won 3500 (over quota); nothing open
    deal(team, "--value", "3500", "--stage", "won", "--assign", "lee")
    # no one's: won 50, open 200 in proposal (100.00)
    deal(team, "--value", "50", "--stage", "won")
    deal(team, "--value", "200", "--stage", "proposal", "--close", "2026-02-01")
    result = report(team, "--period", "2026Q1")
    assert list(result) == ["period", "start", "end", "currency", "rows", "total"]
    assert (result["period"], result["start"], result["end"], result["currency"]) == (
        "2026Q1",
        "2026-01-01",
        "2026-03-31",
        "USD",
    )
    assert all(list(row) == KEYS for row in result["rows"])
    assert list(result["total"]) == KEYS
    dana, lee, nobody = result["rows"]
    # elapsed: 2026-03-10 is day 69 of 90
    assert dana == {
        "key": "dana",
        "quota": "1000.00",
        "won": "400.00",
        "attainment": "0.4000",  # 400 / 1000
        "gap": "600.00",
        "open_value": "700.00",
        "open_forecast": "465.00",
        "coverage": "1.1667",  # 700 / 600 = 1.16666…
        "pace": "0.5217",  # 0.4 / (69/90) = 0.52173…
    }
    assert lee == {
        "key": "lee",
        "quota": "3000.00",
        "won": "3500.00",
        "attainment": "1.1667",
        "gap": "0.00",
        "open_value": "0.00",
        "open_forecast": "0.00",
        "coverage": None,  # gap 0
        "pace": "1.5217",  # 3500/3000 × 90/69 = 1.52173…
    }
    assert nobody == {
        "key": None,
        "quota": None,
        "won": "50.00",
        "attainment": None,
        "gap": None,
        "open_value": "200.00",
        "open_forecast": "100.00",
        "coverage": None,
        "pace": None,
    }
    assert result["total"] == {
        "key": "total",
        "quota": "4000.00",
        "won": "3950.00",
        "attainment": "0.9875",  # 3950 / 4000
        "gap": "50.00",
        "open_value": "900.00",
        "open_forecast": "565.00",
        "coverage": "18.0000",  # 900 / 50
        "pace": "1.2880",  # 0.9875 × 90/69 = 1.28804…
    }


def test_a_user_with_a_quota_and_no_deals_has_a_row(team):
    team("quota", "set", "kim", "2026-03", "500")
    [kim] = report(team, "--period", "2026-03")["rows"]
    assert kim == {
        "key": "kim",
        "quota": "500.00",
        "won": "0.00",
        "attainment": "0.0000",
        "gap": "500.00",
        "open_value": "0.00",
        "open_forecast": "0.00",
        "coverage": "0.0000",
        "pace": "0.0000",
    }


def test_a_zero_quota_gives_null_ratios(team):
    team("quota", "set", "kim", "2026Q1", "0")
    deal(team, "--value", "10", "--stage", "won", "--assign", "kim")
    [kim] = report(team, "--period", "2026Q1")["rows"]
    assert (kim["quota"], kim["attainment"], kim["gap"], kim["coverage"], kim["pace"]) == (
        "0.00",
        None,
        "0.00",
        None,
        None,
    )


def test_an_empty_period_has_no_rows_and_an_empty_total(team):
    result = report(team, "--period", "2030")
    assert result["rows"] == []
    assert result["total"] == {
        "key": "total",
        "quota": None,
        "won": "0.00",
        "attainment": None,
        "gap": None,
        "open_value": "0.00",
        "open_forecast": "0.00",
        "coverage": None,
        "pace": None,
    }


def test_won_is_dated_by_closed_at_in_utc_days(team):
    team("quota", "set", "dana", "2026-02", "1000")
    deal(team, "--value", "100", "--assign", "dana", "--close", "2026-03-20")
    # won on the last instant of February (UTC): February's, whatever its expected close said
    first = deal(team, "--value", "100", "--stage", "negotiation", "--assign", "dana")
    team("stage", "won", first, OPP_NOW="2026-02-28T23:59:59Z")
    second = deal(team, "--value", "70", "--stage", "negotiation", "--assign", "dana")
    team("stage", "won", second, OPP_NOW="2026-03-01T00:00:00Z")
    [dana] = report(team, "--period", "2026-02")["rows"]
    assert dana["won"] == "100.00"
    [dana] = report(team, "--period", "2026-03")["rows"]
    assert (dana["quota"], dana["won"], dana["open_value"]) == (None, "70.00", "100.00")


@pytest.mark.parametrize(
    ("now", "pace"),
    [
        ("2026-03-31T23:00:00Z", None),  # before the quarter: not started
        ("2026-04-01T00:00:00Z", "27.3000"),  # day 1 of 91: 0.3 / (1/91)
        ("2026-05-15T12:00:00Z", "0.6067"),  # day 45 of 91: 0.3 × 91/45 = 0.60666…
        ("2026-06-30T10:00:00Z", "0.3000"),  # the last day: pace = attainment
        ("2026-09-01T10:00:00Z", "0.3000"),  # over
    ],
)
def test_pace_against_the_clock(team, now, pace):
    team("quota", "set", "dana", "2026Q2", "1000")
    won = deal(team, "--value", "300", "--stage", "negotiation", "--assign", "dana")
    team("stage", "won", won, OPP_NOW="2026-04-01T08:00:00Z")
    [dana] = report(team, "--period", "2026Q2", OPP_NOW=now)["rows"]
    assert dana["attainment"] == "0.3000"
    assert dana["pace"] == pace


def test_pace_is_null_before_the_period_even_with_a_quota(team):
    team("quota", "set", "dana", "2026Q3", "1000")
    [dana] = report(team, "--period", "2026Q3")["rows"]
    assert (dana["attainment"], dana["gap"], dana["pace"]) == ("0.0000", "1000.00", None)


def test_ratios_round_half_up(team):
    # 1 / 20000 = 0.00005, a tie: half up gives 0.0001 (half to even would give 0.0000)
    team("quota", "set", "dana", "2026Q1", "20000")
    deal(team, "--value", "1", "--stage", "won", "--assign", "dana")
    [dana] = report(team, "--period", "2026Q1")["rows"]
    assert dana["attainment"] == "0.0001"


def test_quotas_and_deals_in_other_currencies_convert(team):
    team("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    team("rate", "set", "EUR", "USD", "1.20", "--date", "2026-03-31")  # in force on the quarter's last day
    team("quota", "set", "dana", "2026Q1", "1000", "--currency", "EUR")  # 1200.00 USD
    deal(team, "--value", "100", "--currency", "EUR", "--stage", "won", "--assign", "dana")  # 110.00
    deal(
        team,
        "--value",
        "500",
        "--currency",
        "EUR",
        "--stage",
        "negotiation",
        "--close",
        "2026-03-31",
        "--assign",
        "dana",
    )  # 600.00 at the rate on its expected close; forecast 375 EUR → 450.00
    result = report(team, "--period", "2026Q1", "--currency", "USD")
    [dana] = result["rows"]
    assert result["currency"] == "USD"
    assert (dana["quota"], dana["won"], dana["open_value"], dana["open_forecast"]) == (
        "1200.00",
        "110.00",
        "600.00",
        "450.00",
    )
    assert dana["gap"] == "1090.00"
    assert dana["attainment"] == "0.0917"  # 110 / 1200 = 0.091666…


def test_several_currencies_without_a_choice_are_refused(team, unchanged):
    team("quota", "set", "dana", "2026Q1", "1000", "--currency", "EUR")
    deal(team, "--value", "100", "--stage", "won", "--assign", "dana")
    check = unchanged()
    assert "several currencies" in team.fails(4, "report", "attainment", "--period", "2026Q1")
    assert "EUR to USD" in team.fails(4, "report", "attainment", "--period", "2026Q1", "--currency", "USD")
    check()


def test_assignee_keeps_one_users_row(team):
    team("quota", "set", "dana", "2026Q1", "1000")
    team("quota", "set", "lee", "2026Q1", "1000")
    deal(team, "--value", "100", "--stage", "won", "--assign", "lee")
    rows = report(team, "--period", "2026Q1", "--assignee", "lee")["rows"]
    assert [(r["key"], r["won"]) for r in rows] == [("lee", "100.00")]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        ((), 2, "needs --period"),
        (("--period", "2026-03-05"), 2, "unrecognised period"),
        (("--period", "2026Q1", "--currency", "XYZ"), 2, "XYZ"),
        (("--period", "2026Q1", "--assignee", "nobody"), 3, "no user"),
        (("--period", "2026Q1", "--days", "3"), 2, "does not apply"),
    ],
)
def test_bad_attainment_input(team, args, code, says):
    assert says in team.fails(code, "report", "attainment", *args)


def test_attainment_as_a_table_and_csv(team):
    team("quota", "set", "dana", "2026Q1", "1000")
    deal(team, "--value", "100", "--stage", "won")
    table = team("report", "attainment", "--period", "2026Q1").stdout
    assert table.splitlines()[0].split()[:4] == ["user", "quota", "USD", "won"]
    assert "None" not in table and "total" in table
    assert [line.split()[0] for line in table.splitlines()[2:]] == ["dana", "(none)", "total"]
    assert team("report", "attainment", "--period", "2026Q1", "-f", "csv").stdout.splitlines() == [
        ",".join(KEYS),
        "dana,1000.00,0.00,0.0000,1000.00,0.00,0.00,0.0000,0.0000",
        ",,100.00,,,0.00,0.00,,",
        "total,1000.00,100.00,0.1000,900.00,0.00,0.00,0.0000,0.1304",
    ]


def test_attainment_in_the_core(team, ctx):
    team("quota", "set", "dana", "2026Q1", "1000")
    deal(team, "--value", "250", "--stage", "won", "--assign", "dana")
    result = attainment(ctx, "this-quarter", scope=Scope(assignee="dana"))
    assert isinstance(result, Attainment)
    [row] = result.rows
    assert (row.key, row.won, row.attainment) == ("dana", Decimal("250.00"), Decimal("0.2500"))
    assert result.total.key == "total"


def test_the_demo_gives_every_demo_user_a_quota_for_this_quarter(cli):
    cli("demo", OPP_NOW="2026-11-26T09:00:00Z")
    result = report(cli, "--period", "this-quarter", OPP_NOW="2026-11-26T09:00:00Z")
    assert result["period"] == "2026Q4" and result["currency"] == "USD"
    with_quota = [row["key"] for row in result["rows"] if row["quota"] is not None]
    assert with_quota == ["dana", "lena", "miguel", "priya", "sam"]
    assert result["total"]["won"] != "0.00" and result["total"]["pace"] is not None
    assert len(cli.json("quota", "list", "--period", "next-quarter", OPP_NOW="2026-11-26T09:00:00Z")) == 5
