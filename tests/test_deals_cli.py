"""The deal commands through the CLI: create, show, list, edit and note, their output shapes and errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from opp.core.pipeline import customers, deals, users
from tests.conftest import seed

OPPORTUNITY_KEYS = [
    "id",
    "title",
    "description",
    "customer",
    "value",
    "currency",
    "probability",
    "forecast",
    "stage",
    "status",
    "expected_close",
    "external_ref",
    "assignee",
    "lost_reason",
    "created_at",
    "updated_at",
    "closed_at",
    "version",
    "next_task",
    "category",
    "category_set",
    "fields",
]
LATER = "2026-03-12T10:00:00Z"


# A fresh database costs a migration and, through the CLI, ~25 ms of fsync per command on this disk; the
# board is built once per module through the core and copied for each test.


def build_board(db):
    """Five deals: 1 lead (dana, overdue), 2 proposal (mo), 3 won, 4 lost, 5 negotiation for a person."""
    ctx = seed(db)
    users.add_user(ctx, "mo")
    customers.add_customer(ctx, "individual", "Pat Doe")
    deals.create_deal(ctx, "Alpha 50% off", org="Initech", value="500", close="2026-03-01", assign="dana")
    deals.create_deal(
        ctx,
        "Beta_2",
        org="Initech",
        value="2000",
        stage="proposal",
        close="2026-05-15",
        assign="mo",
        description="Path C:\\new",
    )
    deals.create_deal(ctx, "Gamma", org="Initech", value="3000", stage="won", close="2026-04-02")
    deals.create_deal(ctx, "Delta", org="Initech", value="100", stage="lost", close="2026-02-01")
    deals.create_deal(
        ctx,
        "Epsilon",
        person="Pat Doe",
        value="1000",
        stage="negotiation",
        close="2026-06-30",
        description="Renewal FOR the warehouse école",
    )
    ctx.close()


@pytest.fixture(scope="module")
def board_template(databases):
    return databases.template(build_board)


@pytest.fixture
def board(cli, restore, board_template):
    restore(board_template)
    return cli


def make(opp, title="Deal", *args, org="Initech"):
    """Create a deal for ``org`` and return its JSON."""
    return opp.json("create", title, "--org", org, *args)


def ids(opp, *args):
    return [int(line) for line in opp("list", *args, "-f", "ids").stdout.split()]


def events(opp, deal_id, **env):
    return opp.json("history", deal_id, **env)


# -- create --------------------------------------------------------------------------------------------


def test_create_prints_the_contract_opportunity(opp):
    deal = make(opp, "Acme - Software License")
    assert list(deal) == OPPORTUNITY_KEYS
    assert deal == {
        "id": 1,
        "title": "Acme - Software License",
        "description": None,
        "customer": {"id": 1, "kind": "organization", "name": "Initech"},
        "value": 0,
        "currency": "USD",
        "probability": 15,
        "forecast": 0,
        "stage": "lead",
        "status": "open",
        "expected_close": None,
        "external_ref": None,
        "assignee": None,
        "lost_reason": None,
        "created_at": "2026-03-10T08:30:00Z",
        "updated_at": "2026-03-10T08:30:00Z",
        "closed_at": None,
        "version": 1,
        "next_task": None,
        "category": "pipeline",
        "category_set": False,
        "fields": {},
    }


def test_create_with_every_option(opp):
    opp("user", "add", "mo")
    deal = make(
        opp,
        "Big one",
        "--value",
        "1.2m",
        "--currency",
        "eur",
        "--stage",
        "Proposal",
        "--probability",
        "40%",
        "--close",
        "2026-06-30",
        "--description",
        "Three-year licence",
        "--ref",
        "CRM-1",
        "--assign",
        "mo",
    )
    assert deal["value"] == 1_200_000
    assert deal["currency"] == "EUR"
    assert deal["stage"] == "proposal"
    assert deal["probability"] == 40
    assert deal["forecast"] == 480_000
    assert deal["expected_close"] == "2026-06-30"
    assert deal["description"] == "Three-year licence"
    assert deal["external_ref"] == "CRM-1"
    assert deal["assignee"] == "mo"
    created = events(opp, deal["id"])
    assert [e["action"] for e in created] == ["created"]
    snapshot = created[0]["new"]  # the deal's fields as an object, money as a number
    assert snapshot["stage"] == "proposal" and snapshot["assignee"] == "mo" and snapshot["value"] == 1200000


def test_ids_increase(opp):
    assert [make(opp)["id"] for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("50k", "50000.00"),
        ("1.2m", "1200000.00"),
        ("50_000", "50000.00"),
        ("50000.50", "50000.50"),
        ("0", "0.00"),
    ],
)
def test_value_forms(opp, typed, stored):
    out = opp("create", "Deal", "--org", "Initech", "--value", typed, "-f", "json").stdout
    assert f'"value": {stored},' in out


@pytest.mark.parametrize(
    ("close", "expected"), [("+14d", "2026-03-24"), ("eoq", "2026-03-31"), ("today", "2026-03-10")]
)
def test_relative_close_dates_count_from_opp_now(opp, close, expected):
    assert make(opp, "Deal", "--close", close)["expected_close"] == expected


def test_customer_by_id_and_by_exact_name(opp):
    opp("customer", "add", "--person", "Pat Doe")
    assert make(opp, "a", org="1")["customer"]["name"] == "Initech"
    deal = opp.json("create", "b", "--person", "Pat Doe")
    assert deal["customer"] == {"id": 2, "kind": "individual", "name": "Pat Doe"}
    assert opp.json("create", "c", "--person", "2")["customer"]["id"] == 2


def test_create_in_a_closed_stage_closes_the_deal(opp):
    won = make(opp, "w", "--stage", "won", "--value", "10")
    assert (won["status"], won["probability"], won["closed_at"]) == ("won", 100, "2026-03-10T08:30:00Z")
    lost = make(opp, "l", "--stage", "closed-lost")
    assert (lost["status"], lost["probability"], lost["closed_at"]) == ("lost", 0, "2026-03-10T08:30:00Z")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--org", "2"], 2, "is an individual"),
        (["--person", "1"], 2, "is an organization"),
        ([], 2, "exactly one of --org or --person"),
        (["--org", "Initech", "--person", "Pat"], 2, "exactly one of --org or --person"),
        (["--org", "Umbrella"], 3, "no customer 'Umbrella'"),
        (["--org", "99"], 3, "no customer '99'"),
        (["--org", "Initech", "--assign", "ghost"], 3, "no user 'ghost'"),
        (["--org", "Initech", "--value", "-5"], 2, "must not be negative"),
        (["--org", "Initech", "--value", "12.345"], 2, "more decimals"),
        (["--org", "Initech", "--value", "lots"], 2, "not a number"),
        (["--org", "Initech", "--currency", "XYZ"], 2, "unknown currency 'XYZ'"),
        (["--org", "Initech", "--currency", "JPY", "--value", "10.5"], 2, "more decimals than JPY"),
        (["--org", "Initech", "--close", "2026-02-30"], 2, "date '2026-02-30' does not exist"),
        (["--org", "Initech", "--close", "01/02/2026"], 2, "ambiguous date '01/02/2026'"),
        (["--org", "Initech", "--probability", "150"], 2, "probability must be a whole number"),
        (["--org", "Initech", "--probability", "12.5"], 2, "probability must be a whole number"),
        (
            ["--org", "Initech", "--stage", "won", "--probability", "50"],
            2,
            "closed-won deal has probability 100",
        ),
        (
            ["--org", "Initech", "--stage", "lost", "--probability", "10"],
            2,
            "closed-lost deal has probability 0",
        ),
        (["--org", "Initech", "--stage", "nope"], 2, "unknown stage 'nope'"),
    ],
)
def test_create_refuses_bad_input(opp, unchanged, args, code, fragment):
    opp("customer", "add", "--person", "Pat")
    check = unchanged()
    assert fragment in opp.fails(code, "create", "Deal", *args)
    check()


def test_create_refuses_a_customer_of_the_wrong_kind_named_by_id(opp, unchanged):
    check = unchanged()
    assert "use --org" in opp.fails(2, "create", "Deal", "--person", "1")
    check()


def test_create_refuses_a_customer_of_the_wrong_kind_named_by_name(opp, unchanged):
    check = unchanged()
    assert "is an organization" in opp.fails(2, "create", "Deal", "--person", "Initech")
    check()


@pytest.mark.parametrize(
    ("title", "fragment"),
    [
        ("", "title must not be empty"),
        ("   ", "title must not be empty"),
        ("x" * 501, "title is 501 characters long"),
    ],
)
def test_create_refuses_bad_titles(opp, unchanged, title, fragment):
    check = unchanged()
    assert fragment in opp.fails(2, "create", title, "--org", "Initech")
    check()


def test_title_of_500_characters_is_accepted(opp):
    assert make(opp, "x" * 500)["title"] == "x" * 500


def test_duplicate_external_ref_is_a_conflict(opp, unchanged):
    make(opp, "a", "--ref", "CRM-7")
    check = unchanged()
    assert "external ref 'CRM-7' already belongs to opportunity 1" in opp.fails(
        4, "create", "b", "--org", "Initech", "--ref", "CRM-7"
    )
    check()


def test_json_error_on_stderr_with_format_json(opp):
    outcome = opp("create", "x", "--org", "Nobody", "-f", "json", code=3)
    lines = outcome.stderr.splitlines()
    assert lines[0].startswith("opp: error: no customer")
    assert json.loads(lines[1])["error"]["code"] == "not_found"
    assert outcome.stdout == ""


# -- show ----------------------------------------------------------------------------------------------


def test_show_includes_history(opp):
    make(opp, "Deal", "--value", "100")
    opp("note", "1", "called them")
    shown = opp.json("show", "1")
    assert list(shown) == [*OPPORTUNITY_KEYS, "billing", "contacts", "history"]
    assert [e["action"] for e in shown["history"]] == ["created", "note"]
    assert list(shown["history"][0]) == [
        "id",
        "opportunity_id",
        "at",
        "actor",
        "action",
        "field",
        "old",
        "new",
        "note",
    ]


def test_show_as_table_lists_fields_and_history(opp):
    make(opp, "Visible deal")
    out = opp("show", "1").stdout
    assert "Visible deal" in out and "Initech" in out and "history" in out and "created" in out


@pytest.mark.parametrize(("deal_id", "code"), [("99", 3), ("abc", 2), ("0", 2), ("-1", 2), ("1.5", 2)])
def test_show_refuses_bad_or_unknown_ids(opp, deal_id, code):
    make(opp)
    opp.fails(code, "show", deal_id)


def test_show_unknown_id_message(opp):
    assert opp.fails(3, "show", "99") == "opp: error: no opportunity 99 (hint: see opp list --status all)"


# -- list ----------------------------------------------------------------------------------------------


def test_list_defaults_to_open_deals(board):
    assert ids(board) == [1, 2, 5]
    assert ids(board, "--status", "won") == [3]
    assert ids(board, "--status", "LOST") == [4]
    assert ids(board, "--status", "all") == [1, 2, 3, 4, 5]


def test_list_by_stage_is_repeatable_and_includes_closed_stages(board):
    assert ids(board, "--stage", "lead", "--stage", "Proposal") == [1, 2]
    assert ids(board, "--stage", "won", "--stage", "lost") == [3, 4]
    assert ids(board, "--stage", "won", "--status", "open") == []


def test_list_by_assignee_and_unassigned(board):
    assert ids(board, "--assignee", "mo") == [2]
    assert ids(board, "--unassigned") == [5]
    assert ids(board, "--unassigned", "--status", "all") == [3, 4, 5]


def test_list_by_customer(board):
    assert ids(board, "--customer", "Pat Doe") == [5]
    assert ids(board, "--customer", "1", "--status", "all") == [1, 2, 3, 4]


def test_list_by_period(board):
    # Deals 3 and 4 closed on 2026-03-10 (their close date), whatever close they were once expected.
    assert ids(board, "--period", "2026Q2", "--status", "all") == [2, 5]
    assert ids(board, "--period", "2026-06") == [5]
    assert ids(board, "--period", "this-quarter", "--status", "all") == [1, 3, 4]
    assert ids(board, "--from", "2026-04-01", "--to", "2026-05-31", "--status", "all") == [2]
    assert ids(board, "--from", "2026-05-15") == [2, 5]
    assert ids(board, "--to", "2026-03-01") == [1]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("alpha", [1]),
        ("INITECH", [1, 2]),
        ("pat", [2, 5]),
        ("for the", [5]),
        ("50%", [1]),
        ("5%0", []),
        ("%", [1]),
        ("a_2", [2]),
        ("a_", [2]),
        ("_", [2]),
        ("c:\\new", [2]),
        ("\\", [2]),
        ("zzz", []),
        ("ÉCOLE", [5]),
    ],
)
def test_search_is_case_insensitive_and_literal(board, search, expected):
    assert ids(board, "--search", search) == expected


def test_list_overdue(board):
    assert ids(board, "--overdue") == [1]
    assert ids(board, "--overdue", "--status", "all") == [1]


def test_list_sort_and_limit(board):
    assert ids(board, "--sort", "value") == [1, 5, 2]
    assert ids(board, "--sort", "-value") == [2, 5, 1]
    # close: the day a closed deal closed (3 won and 4 lost on 2026-03-10), else the expected close;
    # expected_close: the column, whatever the status (4 was expected on 2026-02-01).
    assert ids(board, "--sort", "close,id", "--status", "all") == [1, 3, 4, 2, 5]
    assert ids(board, "--sort", "expected_close", "--status", "all") == [4, 1, 3, 2, 5]
    assert ids(board, "--sort", "-close,id", "--status", "all") == [5, 2, 3, 4, 1]
    assert ids(board, "--sort", "close") == [1, 2, 5]
    assert ids(board, "--sort", "forecast", "--limit", "2") == [1, 5]
    assert ids(board, "--limit", "1") == [1]


def test_list_offset_pages_through_the_same_order(board):
    """``--offset N`` skips the first N of the order asked; pages put together are the whole list."""
    whole = ids(board, "--status", "all", "--sort", "-value")
    pages = [
        ids(board, "--status", "all", "--sort", "-value", "--offset", str(at), "--limit", "2")
        for at in (0, 2, 4)
    ]
    assert [deal for page in pages for deal in page] == whole
    assert ids(board, "--offset", "1") == [2, 5]
    assert [deal["id"] for deal in board.json("list", "--offset", "2")] == [5]
    assert ids(board, "--offset", "3") == []
    assert "no opportunities match" in board("list", "--offset", "9").stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--assignee", "mo", "--unassigned"], 2, "either --assignee or --unassigned"),
        (["--assignee", "ghost"], 3, "no user 'ghost'"),
        (["--customer", "Nobody"], 3, "no customer 'Nobody'"),
        (["--period", "2026Q2", "--from", "2026-04-01"], 2, "either --period or --from/--to"),
        (["--period", "2026Q2", "--to", "2026-04-01"], 2, "either --period or --from/--to"),
        (["--period", "2026Q5"], 2, "quarter '2026Q5' does not exist"),
        (["--from", "2026-06-01", "--to", "2026-05-01"], 2, "is after --to"),
        (["--sort", "colour"], 2, "cannot sort by 'colour'"),
        (["--limit", "0"], 2, "--limit must be a positive number"),
        (["--offset", "-1"], 2, "the offset must not be negative"),
        (["--offset", "many"], 2, "'many' is not a whole number"),
        (["--status", "pending"], 2, "unknown status 'pending'"),
        (["--stage", "nope"], 2, "unknown stage 'nope'"),
        (["--from", "01/02/2026"], 2, "ambiguous date"),
    ],
)
def test_list_refuses_bad_options(board, args, code, fragment):
    assert fragment in board.fails(code, "list", *args)


def test_list_json_is_an_array_of_opportunities(board):
    listed = board.json("list")
    assert [deal["id"] for deal in listed] == [1, 2, 5]
    assert all(list(deal) == OPPORTUNITY_KEYS for deal in listed)
    assert board.json("list", "--search", "zzz") == []


def test_csv_guards_against_formula_injection(opp):
    for title in ("=SUM(A1)", "+1", "-2", "@cmd"):
        opp("create", "--org", "Initech", "--", title)
    rows = list(csv.DictReader(io.StringIO(opp("list", "-f", "csv").stdout)))
    assert [row["title"] for row in rows] == ["'=SUM(A1)", "'+1", "'-2", "'@cmd"]
    assert board_titles(opp) == ["=SUM(A1)", "+1", "-2", "@cmd"]  # only CSV is guarded
    raw = list(csv.DictReader(io.StringIO(opp("list", "-f", "csv", "--raw").stdout)))
    assert [row["title"] for row in raw] == ["=SUM(A1)", "+1", "-2", "@cmd"]


def board_titles(opp):
    return [deal["title"] for deal in opp.json("list")]


def test_list_table_and_empty_message(board):
    out = board("list").stdout
    assert out.splitlines()[0].split()[:3] == ["id", "title", "customer"]
    outcome = board("list", "--search", "zzz")
    assert outcome.stdout == "" and "no opportunities match" in outcome.stderr


# -- edit ----------------------------------------------------------------------------------------------


def updates(opp, deal_id):
    return [(e["field"], e["old"], e["new"]) for e in events(opp, deal_id) if e["action"] == "updated"]


@pytest.mark.parametrize(
    ("option", "value", "key", "shown", "field", "old", "new"),
    [
        ("--title", "Renamed", "title", "Renamed", "title", "Deal", "Renamed"),
        ("--value", "75k", "value", 75000, "value", "1000.00", "75000.00"),
        ("--currency", "EUR", "currency", "EUR", "currency", "USD", "EUR"),
        ("--probability", "42", "probability", 42, "probability", "15", "42"),
        (
            "--close",
            "2026-09-30",
            "expected_close",
            "2026-09-30",
            "expected_close",
            "2026-04-30",
            "2026-09-30",
        ),
        ("--close", "+14d", "expected_close", "2026-03-26", "expected_close", "2026-04-30", "2026-03-26"),
        ("--description", "More", "description", "More", "description", "Some", "More"),
        ("--ref", "CRM-2", "external_ref", "CRM-2", "external_ref", "CRM-1", "CRM-2"),
    ],
)
def test_edit_each_field_records_one_update(opp, option, value, key, shown, field, old, new):
    make(opp, "Deal", "--value", "1000", "--close", "2026-04-30", "--description", "Some", "--ref", "CRM-1")
    edited = opp.json("edit", "1", option, value, OPP_NOW=LATER)
    assert edited[key] == shown
    assert edited["updated_at"] == LATER and edited["created_at"] == "2026-03-10T08:30:00Z"
    assert updates(opp, 1) == [(field, old, new)]
    event = events(opp, 1)[-1]
    assert (event["actor"], event["at"]) == ("dana", LATER)


def test_edit_several_fields_records_one_event_each(opp):
    make(opp, "Deal", "--value", "1000")
    edited = opp.json("edit", "1", "--title", "T2", "--value", "2000", "--probability", "20")
    assert (edited["title"], edited["value"], edited["probability"], edited["forecast"]) == (
        "T2",
        2000,
        20,
        400,
    )
    assert sorted(updates(opp, 1)) == [
        ("probability", "15", "20"),
        ("title", "Deal", "T2"),
        ("value", "1000.00", "2000.00"),
    ]


def test_edit_with_unchanged_values_writes_nothing(opp, unchanged):
    make(opp, "Deal", "--value", "1000", "--close", "2026-04-30", "--description", "Some", "--ref", "CRM-1")
    check = unchanged()
    edited = opp.json(
        "edit",
        "1",
        "--title",
        "Deal",
        "--value",
        "1k",
        "--currency",
        "usd",
        "--probability",
        "15",
        "--close",
        "2026-04-30",
        "--description",
        "Some",
        "--ref",
        "CRM-1",
        OPP_NOW=LATER,
    )
    assert edited["updated_at"] == "2026-03-10T08:30:00Z"
    check()
    opp("edit", "1", OPP_NOW=LATER)
    check()


def test_edit_with_empty_text_clears_optional_fields(opp):
    make(opp, "Deal", "--close", "2026-04-30", "--description", "Some", "--ref", "CRM-1")
    edited = opp.json("edit", "1", "--description", "", "--close", "", "--ref", "")
    assert (edited["description"], edited["expected_close"], edited["external_ref"]) == (None, None, None)
    assert sorted(updates(opp, 1)) == [
        ("description", "Some", None),
        ("expected_close", "2026-04-30", None),
        ("external_ref", "CRM-1", None),
    ]
    make(opp, "Other", "--ref", "CRM-1")  # the cleared ref is free again


def test_edit_currency_keeps_a_value_the_new_currency_can_hold(opp):
    make(opp, "Deal", "--value", "1000", "--currency", "EUR")
    assert opp.json("edit", "1", "--currency", "JPY")["value"] == 1000
    assert sorted(updates(opp, 1)) == [("currency", "EUR", "JPY"), ("value", "1000.00", "1000")]


def test_edit_currency_and_value_together(opp):
    make(opp, "Deal", "--value", "10.50", "--currency", "EUR")
    edited = opp.json("edit", "1", "--currency", "JPY", "--value", "1500")
    assert (edited["currency"], edited["value"]) == ("JPY", 1500)


def test_edit_probability_does_not_follow_other_edits(opp):
    make(opp, "Deal", "--stage", "proposal")
    assert opp.json("edit", "1", "--value", "100", "--title", "x")["probability"] == 50


@pytest.mark.parametrize(
    ("setup", "args", "code", "fragment"),
    [
        ([], ["--currency", "JPY"], 2, "the value 10.50 cannot be expressed in JPY"),
        ([], ["--currency", "XYZ"], 2, "unknown currency"),
        ([], ["--value", "-1"], 2, "must not be negative"),
        ([], ["--value", "1.234"], 2, "more decimals"),
        ([], ["--probability", "150"], 2, "probability must be a whole number"),
        ([], ["--title", ""], 2, "title must not be empty"),
        ([], ["--title", "y" * 501], 2, "title is 501 characters long"),
        ([], ["--close", "2026-02-30"], 2, "does not exist"),
        ([], ["--close", "01/02/2026"], 2, "ambiguous date"),
        ([], ["--ref", "TAKEN"], 4, "external ref 'TAKEN' already belongs to opportunity 2"),
        (
            [["stage", "won", "1", "--force"]],
            ["--probability", "50"],
            2,
            "closed-won deal has probability 100",
        ),
        ([["stage", "lost", "1"]], ["--probability", "10"], 2, "closed-lost deal has probability 0"),
    ],
)
def test_edit_refuses_bad_input(opp, unchanged, setup, args, code, fragment):
    make(opp, "Deal", "--value", "10.50", "--currency", "EUR")
    make(opp, "Other", "--ref", "TAKEN")
    for command in setup:
        opp(*command)
    check = unchanged()
    assert fragment in opp.fails(code, "edit", "1", *args, "--description", "never written")
    check()


def test_edit_of_a_closed_deal_keeps_its_probability_if_unchanged(opp):
    make(opp, "Deal", "--stage", "won")
    edited = opp.json("edit", "1", "--probability", "100", "--title", "Won deal")
    assert (edited["probability"], edited["title"]) == (100, "Won deal")


def test_edit_reason_sets_a_lost_deals_reason_as_an_undoable_update(opp):
    make(opp)
    opp("stage", "lost", "1", "--reason", "budget")
    edited = opp.json("edit", "1", "--reason", "  went with a competitor  ", "--title", "Lost deal")
    assert (edited["lost_reason"], edited["title"], edited["status"]) == (
        "went with a competitor",
        "Lost deal",
        "lost",
    )
    assert sorted(updates(opp, 1)) == [
        ("lost_reason", "budget", "went with a competitor"),
        ("title", "Deal", "Lost deal"),
    ]
    assert opp.json("undo")["name"] == "edit"
    shown = opp.json("show", "1")
    assert (shown["lost_reason"], shown["title"], shown["status"]) == ("budget", "Deal", "lost")


def test_edit_reason_gives_a_lost_deal_without_one_a_reason(opp):
    make(opp, "Deal", "--stage", "lost")
    assert opp.json("edit", "1", "--reason", "no budget")["lost_reason"] == "no budget"
    assert updates(opp, 1) == [("lost_reason", None, "no budget")]


@pytest.mark.parametrize(
    ("stage", "reason", "code", "fragment"),
    [
        ("won", "budget", 4, "opportunity 1: lost_reason is given but the stage is closed-won"),
        (None, "budget", 4, "opportunity 1: lost_reason is given but the stage is lead"),
        ("lost", "", 2, "reason must not be empty"),
        ("lost", "r" * 2001, 2, "reason is 2001 characters long"),
    ],
)
def test_edit_reason_refuses_a_deal_not_lost_and_bad_reasons(opp, unchanged, stage, reason, code, fragment):
    make(opp, "Deal", *(["--stage", stage] if stage else []))
    check = unchanged()
    assert fragment in opp.fails(code, "edit", "1", "--reason", reason, "--title", "Other")
    check()


@pytest.mark.parametrize(("deal_id", "code"), [("99", 3), ("abc", 2), ("0", 2)])
def test_edit_refuses_bad_or_unknown_ids(opp, unchanged, deal_id, code):
    make(opp)
    check = unchanged()
    opp.fails(code, "edit", deal_id, "--title", "x")
    check()


# -- edit --if-version ---------------------------------------------------------------------------------


def test_every_change_bumps_the_version(opp):
    deal = make(opp)
    assert deal["version"] == 1
    assert opp.json("edit", deal["id"], "--title", "Renamed")["version"] == 2
    assert opp.json("stage", "qualification", deal["id"])[0]["version"] == 3
    assert opp.json("claim", deal["id"])[0]["version"] == 4
    opp("note", deal["id"], "notes change no field")
    assert opp.json("show", deal["id"])["version"] == 4


def test_edit_if_version_applies_while_the_deal_is_unchanged(opp):
    deal = make(opp)
    edited = opp.json("edit", deal["id"], "--value", "500", "--if-version", deal["version"])
    assert (edited["value"], edited["version"]) == (500, 2)


def test_edit_on_a_stale_version_is_refused_naming_who_changed_it(opp, unchanged):
    opp("user", "add", "mo")
    deal = make(opp)
    opp("--as", "mo", "edit", deal["id"], "--value", "700", OPP_NOW=LATER)  # someone else, since
    check = unchanged()
    line = opp.fails(4, "edit", deal["id"], "--value", "500", "--if-version", deal["version"])
    assert "version 2, not 1" in line and f"mo at {LATER}" in line
    check()


@pytest.mark.parametrize("command", ["list", "export", "forecast"])
def test_a_repeatable_filter_takes_a_comma_separated_list(board, command):
    fmt = ("-f", "json")
    repeated = board(command, "--stage", "lead", "--stage", "proposal", *fmt).stdout
    assert board(command, "--stage", "lead,proposal", *fmt).stdout == repeated
    assert board(command, "--stage", "lead, proposal,", *fmt).stdout == repeated
    assert (
        board(command, "--stage", "lead,proposal", "--stage", "won", *fmt).stdout
        == board(command, "--stage", "lead", "--stage", "proposal", "--stage", "won", *fmt).stdout
    )


def test_a_comma_list_with_an_unknown_stage_is_refused(board, unchanged):
    assert "unknown stage 'nowhere'" in board.fails(2, "list", "--stage", "lead,nowhere")


@pytest.fixture
def currencies(opp):
    """Three deals: 1,000 EUR (1,100 USD at 1.10), 1,050 USD, 100,000 JPY (at 0.0067: 670 USD)."""
    opp("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    opp("rate", "set", "JPY", "USD", "0.0067", "--date", "2026-01-01")
    make(opp, "Euro", "--value", "1000", "--currency", "EUR")
    make(opp, "Dollar", "--value", "1050", "--currency", "USD")
    make(opp, "Yen", "--value", "100000", "--currency", "JPY")
    return opp


def test_sort_by_value_across_currencies_uses_the_reporting_currency(currencies):
    currencies("config", "set", "reporting_currency", "USD")
    assert ids(currencies, "--sort", "value") == [3, 2, 1]
    assert ids(currencies, "--sort", "-value") == [1, 2, 3]
    assert ids(currencies, "--sort", "-forecast") == [1, 2, 3]
    assert [d["id"] for d in currencies.json("list", "--sort", "-value", "--limit", "1")] == [1]


def test_sort_by_value_in_one_currency_needs_no_rate(opp):
    make(opp, "Small", "--value", "5")
    make(opp, "Large", "--value", "50")
    assert ids(opp, "--sort", "-value") == [2, 1]


def test_sort_by_value_across_currencies_without_a_reporting_currency_is_refused(currencies):
    line = currencies.fails(4, "list", "--sort", "value")
    assert "several currencies (EUR, JPY, USD)" in line
    assert "reporting_currency" in line


def test_sort_by_value_across_currencies_without_a_rate_is_refused_naming_it(currencies):
    currencies("config", "set", "reporting_currency", "USD")
    make(currencies, "Pound", "--value", "10", "--currency", "GBP")
    line = currencies.fails(4, "list", "--sort", "value")
    assert "GBP" in line and "USD" in line
