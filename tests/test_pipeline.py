"""opp pipeline: open deals per open stage, every stage listed in order, totals, and a bar per stage."""

from __future__ import annotations

import json

import pytest


def deal(opp, *args, title="Deal", **env):
    """Create a deal for Initech and return its id."""
    return opp.json("create", title, "--org", "Initech", *args, **env)["id"]


def board(opp, *args, **env):
    """The pipeline as JSON, money as exact text."""
    return json.loads(opp("pipeline", *args, "--format", "json", **env).stdout, parse_float=str)


def rows(result):
    return [(s["stage"], s["count"], s["value"], s["forecast"]) for s in result["stages"]]


def test_every_open_stage_in_order_empty_ones_included_closed_deals_left_out(opp):
    deal(opp, "--value", "300", "--stage", "proposal")  # 150.00
    deal(opp, "--value", "0.05", "--stage", "proposal")  # 0.025 → 0.03
    deal(opp, "--value", "100")  # lead: 15.00
    deal(opp, "--value", "5000", "--stage", "won")
    deal(opp, "--value", "7000", "--stage", "lost")
    result = board(opp)
    assert list(result) == ["currency", "stages", "total"]
    assert result["currency"] == "USD"
    assert result["stages"][0] == {
        "stage": "lead",
        "name": "Lead",
        "count": 1,
        "value": "100.00",
        "forecast": "15.00",
    }
    assert rows(result) == [
        ("lead", 1, "100.00", "15.00"),
        ("qualification", 0, "0.00", "0.00"),
        ("proposal", 2, "300.05", "150.03"),
        ("negotiation", 0, "0.00", "0.00"),
    ]
    # 100 + 300.05 = 400.05; 15 + 150.03 = 165.03
    assert result["total"] == {"count": 3, "value": "400.05", "forecast": "165.03"}


def test_an_empty_pipeline_lists_every_open_stage(cli):
    result = board(cli)
    assert rows(result) == [
        (key, 0, "0.00", "0.00") for key in ("lead", "qualification", "proposal", "negotiation")
    ]
    assert result["total"] == {"count": 0, "value": "0.00", "forecast": "0.00"}


def test_assignee_keeps_only_that_user_s_deals(opp):
    opp("user", "add", "erin")
    deal(opp, "--value", "100", "--assign", "dana")
    deal(opp, "--value", "200", "--assign", "erin", "--stage", "negotiation")  # 150.00
    deal(opp, "--value", "400")
    result = board(opp, "--assignee", "erin")
    assert rows(result)[3] == ("negotiation", 1, "200.00", "150.00")
    assert result["total"] == {"count": 1, "value": "200.00", "forecast": "150.00"}


def test_unknown_assignee_is_not_found(opp):
    assert "no user 'nobody'" in opp.fails(3, "pipeline", "--assignee", "nobody")


def test_the_table_draws_a_bar_per_stage_scaled_to_the_largest(opp):
    deal(opp, "--value", "100")  # lead: a third of the largest → 10 of 30 characters
    deal(opp, "--value", "300", "--stage", "proposal")  # the largest: 30 characters
    deal(opp, "--value", "150", "--stage", "negotiation")  # half → 15 characters
    lines = opp("pipeline").stdout.splitlines()
    table = {line.split()[0]: line for line in lines[2:]}
    assert list(table) == ["Lead", "Qualification", "Proposal", "Negotiation", "total"]
    assert table["Lead"].rstrip().endswith(" " + "█" * 10)
    assert table["Lead"].count("█") == 10
    assert table["Qualification"].count("█") == 0
    assert table["Proposal"].count("█") == 30
    assert table["Negotiation"].count("█") == 15
    assert table["total"].count("█") == 0
    assert table["total"].split() == ["total", "3", "550.00", "277.50"]  # 15 + 150 + 112.50


def test_the_table_of_an_empty_pipeline_has_no_bars(cli):
    assert "█" not in cli("pipeline").stdout


def test_a_new_stage_appears_in_its_place(opp):
    opp("stages", "add", "discovery", "--after", "lead", "--probability", "20")
    deal(opp, "--value", "100", "--stage", "discovery")  # 20% → 20.00
    result = board(opp)
    assert rows(result) == [
        ("lead", 0, "0.00", "0.00"),
        ("discovery", 1, "100.00", "20.00"),
        ("qualification", 0, "0.00", "0.00"),
        ("proposal", 0, "0.00", "0.00"),
        ("negotiation", 0, "0.00", "0.00"),
    ]
    assert "Discovery" in opp("pipeline").stdout.splitlines()[3]


def test_several_currencies_need_a_reporting_currency(opp):
    deal(opp, "--value", "100")
    deal(opp, "--value", "100", "--currency", "EUR")
    assert "--currency" in opp.fails(4, "pipeline")


@pytest.mark.parametrize("currency", ["XYZ", "usd1"])
def test_an_unknown_currency_is_invalid(opp, currency):
    opp.fails(2, "pipeline", "--currency", currency)
