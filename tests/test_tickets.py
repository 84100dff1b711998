"""Tickets (opp ticket ...), time logged, undo, export, and opp report support."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import NOW

TICKET_KEYS = [
    "id",
    "opportunity_id",
    "customer",
    "title",
    "kind",
    "priority",
    "status",
    "assignee",
    "opened_at",
    "solved_at",
    "hours",
]
SUPPORT_KEYS = ["key", "name", "currency", "won_value", "tickets", "hours", "cost", "cost_ratio"]
LATER = "2026-03-12T10:00:00Z"


@pytest.fixture
def deal(sam_and_a_deal: int) -> int:
    return sam_and_a_deal


def test_ticket_add_on_a_deal_prints_the_contract_ticket(opp, deal):
    ticket = opp.json("ticket", "add", deal, "Login fails", "--assign", "Sam")
    assert list(ticket) == TICKET_KEYS
    assert ticket == {
        "id": 1,
        "opportunity_id": deal,
        "customer": {"id": 1, "kind": "organization", "name": "Initech"},
        "title": "Login fails",
        "kind": "pre-sale",
        "priority": "normal",
        "status": "open",
        "assignee": "sam",
        "opened_at": NOW,
        "solved_at": None,
        "hours": 0,
    }


def test_kind_defaults_to_post_sale_on_a_won_deal(opp, deal):
    opp("stage", "won", deal, "--force")
    assert opp.json("ticket", "add", deal, "Training")["kind"] == "post-sale"
    assert opp.json("ticket", "add", deal, "Upsell", "--kind", "PRE-SALE")["kind"] == "pre-sale"


def test_a_ticket_on_a_customer_alone(opp):
    ticket = opp.json("ticket", "add", "--customer", "Initech", "Question", "--priority", "urgent")
    assert (ticket["opportunity_id"], ticket["customer"]["name"], ticket["priority"]) == (
        None,
        "Initech",
        "urgent",
    )


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["99", "Title"], 3, "no opportunity 99"),
        (["--customer", "Nobody", "Title"], 3, "no customer"),
        (["{deal}", "Title", "--kind", "support"], 2, "ticket kinds are pre-sale, post-sale"),
        (["{deal}", "Title", "--priority", "p1"], 2, "ticket priorities are low, normal, high, urgent"),
        (["{deal}", "Title", "--assign", "nobody"], 3, "no user"),
        (["{deal}"], 2, "give an opportunity id and a title"),
        (["{deal}", "   "], 2, "must not be empty"),
        (["--customer", "Initech", "{deal}", "Title"], 2, "only the title"),
    ],
)
def test_bad_ticket_input_is_refused_and_changes_nothing(opp, deal, unchanged, args, code, says):
    check = unchanged()
    line = opp.fails(code, "ticket", "add", *[arg.replace("{deal}", str(deal)) for arg in args])
    assert says in line
    check()


def test_status_flow_sets_and_clears_solved_at(opp, deal):
    opp("ticket", "add", deal, "Login fails")
    assert opp.json("ticket", "status", "1", "pending")["solved_at"] is None
    solved = opp.json("ticket", "status", "1", "Solved")
    assert (solved["status"], solved["solved_at"]) == ("solved", NOW)
    closed = opp.json("ticket", "status", "1", "closed", OPP_NOW=LATER)
    assert (closed["status"], closed["solved_at"]) == ("closed", NOW)  # solved when it was solved
    reopened = opp.json("ticket", "status", "1", "open")
    assert (reopened["status"], reopened["solved_at"]) == ("open", None)
    line = opp.fails(2, "ticket", "status", "1", "done")
    assert "ticket statuses are open, pending, solved, closed" in line


def test_log_adds_hours_in_hundredths(opp, deal):
    opp("ticket", "add", deal, "Login fails")
    opp("ticket", "log", "1", "1.5", "--note", "first call")
    ticket = opp.json("ticket", "log", "1", "0.25")
    assert ticket["hours"] == 1.75
    shown = opp.json("ticket", "show", "1")
    assert shown["time"] == [
        {"at": NOW, "actor": "dana", "hours": 1.5, "note": "first call"},
        {"at": NOW, "actor": "dana", "hours": 0.25, "note": None},
    ]
    assert '"hours": 1.75' in opp("ticket", "show", "1", "-f", "json").stdout


@pytest.mark.parametrize(
    ("hours", "says"),
    [
        ("-1", "positive"),
        ("0", "positive"),
        ("abc", "must be a number"),
        ("1.234", "more than 2 decimals"),
        ("nan", "must be a number"),
        ("inf", "must be a number"),
        ("1e9", "more than one entry can hold"),
    ],
)
def test_bad_hours_are_refused(opp, deal, unchanged, hours, says):
    opp("ticket", "add", deal, "Login fails")
    check = unchanged()
    assert says in opp.fails(2, "ticket", "log", "1", "--", hours)
    check()


def test_unknown_ticket_ids(opp, deal):
    assert "no ticket 4" in opp.fails(3, "ticket", "show", "4")
    assert "no ticket 4" in opp.fails(3, "ticket", "status", "4", "open")
    assert "no ticket 4" in opp.fails(3, "ticket", "log", "4", "1")
    assert "positive integer" in opp.fails(2, "ticket", "show", "x")


def test_list_filters_and_leaves_closed_ones_out_by_default(opp, deal):
    other = opp.json("customer", "add", "--org", "Hooli")["id"]
    opp("ticket", "add", deal, "On the deal")
    opp("ticket", "add", "--customer", "Initech", "On Initech alone")
    opp("ticket", "add", "--customer", "Hooli", "On Hooli", "--kind", "post-sale")
    opp("ticket", "add", deal, "Closed one")
    opp("ticket", "status", "4", "closed")

    def titles(*args: str) -> list[str]:
        return [t["title"] for t in opp.json("ticket", "list", *args)]

    assert titles() == ["On the deal", "On Initech alone", "On Hooli"]
    assert titles("--deal", str(deal)) == ["On the deal"]
    assert titles("--customer", "Initech", "--status", "all") == [
        "On the deal",
        "On Initech alone",
        "Closed one",
    ]
    assert titles("--customer", str(other)) == ["On Hooli"]
    assert titles("--status", "closed") == ["Closed one"]
    assert titles("--kind", "post-sale") == ["On Hooli"]
    assert "open, pending, solved, closed, all" in opp.fails(2, "ticket", "list", "--status", "late")
    assert "no opportunity 9" in opp.fails(3, "ticket", "list", "--deal", "9")


def test_ticket_changes_are_ticket_events_of_the_deal(opp, deal):
    opp("ticket", "add", deal, "Login fails")
    opp("ticket", "log", "1", "2")
    opp("ticket", "status", "1", "solved")
    events = opp.json("history", deal, "--action", "ticket")
    assert [(e["field"], e["old"], e["new"]) for e in events] == [
        ("ticket", None, "Login fails"),
        ("ticket_hours", None, "2.00"),
        ("ticket_status", "open", "solved"),
        ("ticket_solved_at", None, NOW),
    ]


def test_undo_takes_back_each_kind_of_ticket_change(opp, deal):
    opp("ticket", "add", deal, "Login fails")
    opp("ticket", "log", "1", "2")
    opp("ticket", "status", "1", "solved")
    assert opp.json("undo")["name"] == "ticket status"
    ticket = opp.json("ticket", "show", "1")
    assert (ticket["status"], ticket["solved_at"], ticket["hours"]) == ("open", None, 2)
    assert opp.json("undo")["name"] == "ticket log"
    assert opp.json("ticket", "show", "1")["hours"] == 0
    assert opp.json("undo")["name"] == "ticket add"
    opp.fails(3, "ticket", "show", "1")


def test_undo_of_a_ticket_on_a_customer_alone(opp):
    opp("ticket", "add", "--customer", "Initech", "Question")
    opp("ticket", "log", "1", "0.5")
    assert opp.json("undo")["name"] == "ticket log"
    assert opp.json("ticket", "show", "1")["hours"] == 0
    opp("ticket", "status", "1", "solved")
    assert "cannot be undone" in opp.fails(4, "undo")
    opp("ticket", "add", "--customer", "Initech", "Another")
    assert opp.json("undo")["name"] == "ticket add"
    assert [t["id"] for t in opp.json("ticket", "list", "--status", "all")] == [1]


def test_undo_of_opening_a_ticket_is_refused_once_someone_else_logged_time(opp):
    opp("ticket", "add", "--customer", "Initech", "Question")
    opp("ticket", "log", "1", "1", OPP_USER="sam")
    assert "time logged on it since (by sam)" in opp.fails(4, "undo")


def test_export_what_tickets(opp, deal):
    opp("ticket", "add", deal, "Login fails")
    opp("ticket", "log", "1", "1.25")
    rows = opp("export", "--what", "tickets").stdout.splitlines()
    assert rows[0] == (
        "id,opportunity_id,customer_id,customer,title,kind,priority,status,assignee,opened_at,solved_at,hours"
    )
    assert rows[1] == f"1,{deal},1,Initech,Login fails,pre-sale,normal,open,,{NOW},,1.25"


# -- report support ----------------------------------------------------------------------------------


@pytest.fixture
def supported(opp) -> dict[str, int]:
    """Two won deals (one in EUR), an open one; tickets with hours on them and on Initech alone."""
    opp("customer", "add", "--org", "Hooli")
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    opp("config", "set", "reporting_currency", "USD")
    big = opp.json("create", "Big", "--org", "Initech", "--value", "10000")["id"]
    euro = opp.json("create", "Euro", "--org", "Hooli", "--value", "3000", "--currency", "EUR")["id"]
    still_open = opp.json("create", "Open", "--org", "Initech", "--value", "500")["id"]
    opp("stage", "won", big, euro, "--force")
    opp("ticket", "add", big, "Setup")
    opp("ticket", "log", "1", "2.5")
    opp("ticket", "add", big, "Training")
    opp("ticket", "log", "2", "1")
    opp("ticket", "add", euro, "Bug")
    opp("ticket", "log", "3", "0.75")
    opp("ticket", "add", still_open, "Pre-sale demo")
    opp("ticket", "log", "4", "3")
    opp("ticket", "add", "--customer", "Initech", "Account question")
    opp("ticket", "log", "5", "0.5")
    return {"big": big, "euro": euro}


def test_support_per_deal_sets_cost_beside_won_value(opp, supported):
    rows = opp.json("report", "support", "--hourly-cost", "60")
    assert list(rows[0]) == SUPPORT_KEYS
    assert rows == [
        {
            "key": supported["big"],
            "name": "Big",
            "currency": "USD",
            "won_value": 10000,
            "tickets": 2,
            "hours": 3.5,
            "cost": 210,
            "cost_ratio": 0.021,
        },
        {
            "key": supported["euro"],
            "name": "Euro",
            "currency": "USD",
            "won_value": 3300,  # converted at the rate in force on its close date
            "tickets": 1,
            "hours": 0.75,
            "cost": 45,
            "cost_ratio": 0.0136,  # 45 / 3300 = 0.013636... half up to 4 decimals
        },
    ]


def test_support_per_customer_counts_the_tickets_on_the_customer_alone(opp, supported):
    rows = opp.json("report", "support", "--by", "customer", "--hourly-cost", "60")
    initech = rows[0]
    assert (initech["name"], initech["tickets"], initech["hours"], initech["cost"]) == ("Initech", 3, 4, 240)
    assert initech["cost_ratio"] == 0.024


def test_support_per_value_of_a_deal_field(opp, supported):
    """A group per value, in the field's order, the deals without one last; a deal field counts the
    tickets on the won deals only (not Initech's own ticket)."""
    opp("field", "add", "region", "--type", "choice", "--choices", "EMEA,AMER")
    opp("edit", str(supported["euro"]), "--set", "region=EMEA")
    rows = opp.json("report", "support", "--by", "Region", "--hourly-cost", "60")
    assert [(r["key"], r["name"], r["won_value"], r["tickets"], r["hours"], r["cost"]) for r in rows] == [
        ("EMEA", "EMEA", 3300, 1, 0.75, 45),
        (None, "(not set)", 10000, 2, 3.5, 210),
    ]
    assert [r["key"] for r in opp.json("report", "support", "--by", "region", "--where", "region=EMEA")] == [
        "EMEA"
    ]
    table = opp("report", "support", "--by", "region").stdout
    assert "(not set)" in table and "EMEA" in table


def test_support_per_value_of_a_customer_field_counts_their_own_tickets(opp, supported):
    opp("field", "add", "tier", "--type", "choice", "--choices", "Gold,Silver", "--on", "customer")
    opp("customer", "edit", "Initech", "--set", "tier=Gold")
    opp("customer", "edit", "Hooli", "--set", "tier=Silver")
    rows = opp.json("report", "support", "--by", "tier", "--hourly-cost", "60")
    # Gold: Initech's won deal (2 tickets, 3.5 h) and the ticket on Initech alone (0.5 h), as --by customer
    assert [(r["key"], r["won_value"], r["tickets"], r["hours"], r["cost"]) for r in rows] == [
        ("Gold", 10000, 3, 4, 240),
        ("Silver", 3300, 1, 0.75, 45),
    ]


def test_support_cost_comes_from_the_setting_and_is_null_without_one(opp, supported):
    rows = opp.json("report", "support")
    assert [(r["cost"], r["cost_ratio"]) for r in rows] == [(None, None), (None, None)]
    opp("config", "set", "support_hourly_cost", "100")
    assert [r["cost"] for r in opp.json("report", "support")] == [350, 75]
    assert [r["cost"] for r in opp.json("report", "support", "--hourly-cost", "10")] == [35, 7.5]


def test_cost_ratio_rounds_half_up_to_four_decimals(opp):
    deal = opp.json("create", "Small", "--org", "Initech", "--value", "8000")["id"]
    opp("stage", "won", deal, "--force")
    opp("ticket", "add", deal, "One")
    opp("ticket", "log", "1", "1")
    # cost 1.00, won 8000: 0.000125 -> 0.0001 (half up at the 4th decimal: 0.000125 rounds to 0.0001)
    assert opp.json("report", "support", "--hourly-cost", "1")[0]["cost_ratio"] == 0.0001
    # cost 1.20 / 8000 = 0.00015 -> 0.0002 (exactly half: up)
    assert opp.json("report", "support", "--hourly-cost", "1.2")[0]["cost_ratio"] == 0.0002
    assert Decimal("0.00015").quantize(Decimal("0.0001")) == Decimal("0.0002")


def test_support_period_and_bad_options(opp, supported):
    assert opp.json("report", "support", "--period", "2025") == []
    assert len(opp.json("report", "support", "--period", "2026Q1")) == 2
    assert "deal or customer, or a custom field's name" in opp.fails(2, "report", "support", "--by", "month")
    assert "invalid hourly cost" in opp.fails(2, "report", "support", "--hourly-cost", "-5")
    assert "invalid hourly cost" in opp.fails(2, "config", "set", "support_hourly_cost", "lots")
    assert len(opp("report", "support", "-f", "csv").stdout.splitlines()) == 3


@given(st.integers(min_value=1, max_value=878_400))
def test_hours_with_two_decimals_are_kept_exactly_in_hundredths(hundredths):
    from opp.core.work.tickets import hours_of, parse_hours

    typed = str(hours_of(hundredths))
    assert parse_hours(typed) == hundredths
    assert parse_hours(typed.rstrip("0").rstrip(".") or "0") == hundredths
