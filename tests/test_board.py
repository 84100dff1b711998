"""`opp pipeline --board`: the deals as cards (id, short title, value) in a column per open stage."""

from __future__ import annotations

import json

import pytest


def day(n: int) -> str:
    return f"2026-03-{n:02d}T10:00:00Z"


@pytest.fixture
def board(opp):
    """Five open deals and a won one, in USD unless said, made on day 1 (2026-03-01)."""
    opp("user", "add", "sam")
    opp("rate", "set", "EUR", "USD", "2", "--date", "2026-01-01")

    def create(title, *args):
        return opp.json("create", title, "--org", "Initech", *args, OPP_NOW=day(1))["id"]

    create(
        "Acme Corp - Enterprise Software License",
        "--value",
        "50k",
        "--close",
        "2026-06-30",
        "--assign",
        "dana",
    )
    create("Small deal", "--value", "100", "--close", "2026-04-01", "--assign", "sam")
    create("No date", "--value", "700", "--assign", "dana")
    create(
        "Euro deal", "--value", "1000", "--currency", "EUR", "--stage", "proposal", "--close", "2026-05-01"
    )
    create("Late", "--value", "300", "--stage", "negotiation", "--close", "2026-05-02", "--assign", "sam")
    create("Won already", "--value", "999", "--stage", "won")
    opp("stage", "qualification", 2, OPP_NOW=day(5))
    opp.env["OPP_NOW"] = day(10)
    return opp


def columns(result):
    return [
        (s["stage"], s["count"], s["value"], [card["id"] for card in s["cards"]]) for s in result["stages"]
    ]


def test_the_board_has_a_column_per_open_stage_with_its_cards(board):
    result = json.loads(
        board("pipeline", "--board", "--currency", "USD", "-f", "json").stdout, parse_float=str
    )
    assert list(result) == ["currency", "stages", "total"]
    # Lead: deal 1 (closes 06-30) before deal 3 (no expected close). Euro deal: 1000 EUR × 2 = 2000 USD.
    assert columns(result) == [
        ("lead", 2, "50700.00", [1, 3]),
        ("qualification", 1, "100.00", [2]),
        ("proposal", 1, "2000.00", [4]),
        ("negotiation", 1, "300.00", [5]),
    ]
    assert result["stages"][2]["cards"] == [
        {
            "id": 4,
            "title": "Euro deal",
            "value": "1000.00",
            "currency": "EUR",
            "probability": 50,
            "expected_close": "2026-05-01",
            "assignee": None,
        }
    ]
    # 50000 × 15 % + 700 × 15 % + 100 × 30 % + 2000 × 50 % + 300 × 75 %
    assert result["total"] == {"count": 5, "value": "53100.00", "forecast": "8860.00"}


def test_the_board_as_a_table_shows_cards_under_their_stage(board):
    lines = board("pipeline", "--board", "--currency", "USD").stdout.splitlines()
    assert lines[0].split() == [
        "Lead",
        "(2)",
        "Qualification",
        "(1)",
        "Proposal",
        "(1)",
        "Negotiation",
        "(1)",
    ]
    first = lines[2]
    # A long title is cut to 20 characters; each card shows its value in its own currency.
    assert first.startswith("#1 Acme Corp - Enterpr… 50,000.00 USD")
    assert "#2 Small deal 100.00 USD" in first
    assert "#4 Euro deal 1,000.00 EUR" in first
    assert "#5 Late 300.00 USD" in first
    assert lines[3].split() == ["#3", "No", "date", "700.00", "USD"]
    assert lines[4].split() == [
        "=",
        "50,700.00",
        "USD",
        "=",
        "100.00",
        "USD",
        "=",
        "2,000.00",
        "USD",
        "=",
        "300.00",
        "USD",
    ]
    assert len(lines) == 5


def test_the_board_of_one_assignee(board):
    result = board.json("pipeline", "--board", "--assignee", "sam")
    assert [[card["id"] for card in stage["cards"]] for stage in result["stages"]] == [[], [2], [], [5]]


def test_the_board_as_of_a_day(board):
    result = board.json("pipeline", "--board", "--currency", "USD", "--as-of", "2026-03-04")
    # Deal 2 moved to qualification on day 5; it closes first (04-01), so its card is on top.
    assert [[card["id"] for card in stage["cards"]] for stage in result["stages"]] == [
        [2, 1, 3],
        [],
        [4],
        [5],
    ]
    assert (
        board.json("pipeline", "--board", "--currency", "USD", "--as-of", "2026-02-28")["total"]["count"] == 0
    )


def test_an_empty_board_lists_every_stage(cli):
    lines = cli("pipeline", "--board").stdout.splitlines()
    assert lines[0].split() == [
        "Lead",
        "(0)",
        "Qualification",
        "(0)",
        "Proposal",
        "(0)",
        "Negotiation",
        "(0)",
    ]
    assert lines[2].split() == ["=", "0.00", "USD"] * 4


def test_cards_shows_the_first_n_of_each_stage_and_counts_the_rest(board):
    result = board.json("pipeline", "--board", "--currency", "USD", "--cards", "1")
    assert [(s["stage"], [c["id"] for c in s["cards"]], s["more"]) for s in result["stages"]] == [
        ("lead", [1], 1),
        ("qualification", [2], 0),
        ("proposal", [4], 0),
        ("negotiation", [5], 0),
    ]
    assert result["total"]["count"] == 5  # the figures still cover every deal
    lines = board("pipeline", "--board", "--currency", "USD", "--cards", "1").stdout.splitlines()
    assert lines[3].split() == ["…", "1", "more"]
    assert lines[4].split()[:3] == ["=", "50,700.00", "USD"]


def test_cards_as_of_a_day_ranks_the_deals_as_they_stood(board):
    result = board.json("pipeline", "--board", "--currency", "USD", "--as-of", "2026-03-04", "--cards", "2")
    assert [([c["id"] for c in s["cards"]], s["more"]) for s in result["stages"]] == [
        ([2, 1], 1),
        ([], 0),
        ([4], 0),
        ([5], 0),
    ]


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_cards_must_be_a_positive_number(board, unchanged, value):
    check = unchanged()
    message = board.fails(2, "pipeline", "--board", "--cards", value)
    assert "cards" in message
    check()


def test_cards_without_board_is_refused(board, unchanged):
    check = unchanged()
    assert "--board" in board.fails(2, "pipeline", "--cards", "3")
    check()
