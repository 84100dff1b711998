"""opp customer add / list / show."""

from __future__ import annotations

from decimal import Decimal

import pytest


def test_add_an_organization(cli):
    added = cli.json("customer", "add", "--org", "Acme Corp", "--email", "buy@acme.test", "--phone", "+1 555")
    assert added == {
        "id": 1,
        "kind": "organization",
        "name": "Acme Corp",
        "email": "buy@acme.test",
        "phone": "+1 555",
        "employer": None,
        "job_title": None,
        "fields": {},
    }


def test_add_a_person(cli):
    added = cli.json("customer", "add", "--person", "  Jane Roe  ")
    assert added == {
        "id": 1,
        "kind": "individual",
        "name": "Jane Roe",
        "email": None,
        "phone": None,
        "employer": None,
        "job_title": None,
        "fields": {},
    }


def test_ids_are_handed_out_in_increasing_order(cli):
    ids = [cli.json("customer", "add", "--org", name)["id"] for name in ("A", "B", "C")]
    assert ids == [1, 2, 3]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "give exactly one of --org or --person"),
        (("--org", "A", "--person", "B"), "give exactly one of --org or --person"),
        (("--org", ""), "customer name must not be empty"),
        (("--person", "   "), "customer name must not be empty"),
        (("--org", "A", "--email", "not-an-email"), "invalid email address 'not-an-email'"),
        (("--org", "A", "--email", "a b@c.d"), "invalid email address"),
        (("--org", "x" * 301), "customer name is 301 characters long"),
    ],
)
def test_add_refuses_bad_input(opp, unchanged, args, expected):
    check = unchanged()
    assert expected in opp.fails(2, "customer", "add", *args)
    check()


def test_same_kind_and_name_twice_is_a_conflict(opp, unchanged):
    check = unchanged()
    line = opp.fails(4, "customer", "add", "--org", "Initech")
    assert "organization 'Initech' already exists as customer 1" in line
    check()


def test_same_name_as_a_person_and_an_organization_is_allowed(opp):
    person = opp.json("customer", "add", "--person", "Initech")
    assert person["kind"] == "individual"
    assert person["id"] == 2


@pytest.fixture
def three(opp):
    opp("customer", "add", "--person", "Jane Roe")
    opp("customer", "add", "--org", "Globex 100%")
    return opp


def test_list_in_id_order(three):
    names = [c["name"] for c in three.json("customer", "list")]
    assert names == ["Initech", "Jane Roe", "Globex 100%"]


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        ("organization", ["Initech", "Globex 100%"]),
        ("org", ["Initech", "Globex 100%"]),
        ("person", ["Jane Roe"]),
    ],
)
def test_list_by_kind(three, kind, names):
    assert [c["name"] for c in three.json("customer", "list", "--kind", kind)] == names


@pytest.mark.parametrize(
    ("text", "names"),
    [("ROE", ["Jane Roe"]), ("e", ["Initech", "Jane Roe", "Globex 100%"]), ("%", ["Globex 100%"]), ("_", [])],
)
def test_list_search_is_a_case_insensitive_literal_substring(three, text, names):
    assert [c["name"] for c in three.json("customer", "list", "--search", text)] == names


def test_list_with_no_match_is_an_empty_array_and_a_message(three):
    out = three("customer", "list", "--search", "zzz", "--format", "json")
    assert out.json() == []
    plain = three("customer", "list", "--search", "zzz")
    assert plain.stdout == ""
    assert "no customers match" in plain.stderr


def test_list_unknown_kind_is_invalid(three):
    assert "unknown customer kind 'robot'" in three.fails(2, "customer", "list", "--kind", "robot")


def test_show_by_id_and_by_exact_name(opp):
    by_id = opp.json("customer", "show", "1")
    by_name = opp.json("customer", "show", "Initech")
    assert by_id == by_name
    assert by_id["id"] == 1
    assert by_id["name"] == "Initech"
    assert by_id["opportunities"] == []
    assert by_id["totals"] == {"count": 0, "open": 0, "won": 0, "lost": 0, "by_currency": []}


@pytest.mark.parametrize("ref", ["initech", "Init", "99", "Nobody"])
def test_show_unknown_is_not_found(opp, ref):
    assert f"no customer '{ref}'" in opp.fails(3, "customer", "show", ref)


def test_show_empty_ref_is_invalid(opp):
    assert "must not be empty" in opp.fails(2, "customer", "show", " ")


def test_a_name_shared_by_an_org_and_a_person_is_ambiguous(opp):
    opp("customer", "add", "--person", "Initech")
    line = opp.fails(2, "customer", "show", "Initech")
    assert "matches an organization and an individual" in line
    assert opp.json("customer", "show", "2")["kind"] == "individual"


@pytest.mark.parametrize(
    "args",
    [
        ("customer", "show", "Initech"),
        ("list", "--customer", "Initech"),
        ("invoice", "list", "--customer", "Initech"),
    ],
)
def test_an_ambiguous_name_hints_at_the_ids_not_at_options_the_command_lacks(opp, args):
    opp("customer", "add", "--person", "Initech")
    line = opp.fails(2, *args)
    assert line.endswith("(hint: give the customer id instead: 1 (the organization) or 2 (the individual))")
    assert "--org" not in line and "--person" not in line


def test_show_lists_every_deal_and_per_currency_totals(opp):
    opp("customer", "add", "--org", "Other")
    a = opp.json("create", "Euro open", "--org", "Initech", "--value", "1000.10", "--currency", "EUR")
    b = opp.json("create", "Euro won", "--org", "Initech", "--value", "2500", "--currency", "eur")
    c = opp.json("create", "Dollar lost", "--org", "Initech", "--value", "99.99", "--currency", "USD")
    d = opp.json("create", "Dollar open", "--org", "Initech", "--value", "0.10", "--probability", "30")
    opp.json("create", "Not theirs", "--org", "Other", "--value", "5")
    opp("stage", "won", b["id"], "--force")
    opp("stage", "lost", c["id"])

    shown = opp.json("customer", "show", "Initech")
    assert [deal["id"] for deal in shown["opportunities"]] == [a["id"], b["id"], c["id"], d["id"]]
    assert [deal["status"] for deal in shown["opportunities"]] == ["open", "won", "lost", "open"]
    totals = shown["totals"]
    assert (totals["count"], totals["open"], totals["won"], totals["lost"]) == (4, 2, 1, 1)
    assert totals["by_currency"] == [
        # 1000.10 at 15% = 150.015, rounded half up
        {
            "currency": "EUR",
            "open_value": 1000.10,
            "open_forecast": 150.02,
            "won_value": 2500,
            "lost_value": 0,
            "billed": 0,
            "unbilled": 0,
        },
        # 0.10 at 30% = 0.03
        {
            "currency": "USD",
            "open_value": 0.10,
            "open_forecast": 0.03,
            "won_value": 0,
            "lost_value": 99.99,
            "billed": 0,
            "unbilled": 0,
        },
    ]


def test_show_totals_are_written_exactly(opp):
    opp("create", "A", "--org", "Initech", "--value", "0.10", "--probability", "30")
    opp("create", "B", "--org", "Initech", "--value", "0.20", "--probability", "30")
    raw = opp("customer", "show", "1", "--format", "json").stdout
    assert '"open_value": 0.30' in raw
    assert '"open_forecast": 0.09, "won_value": 0.00' in raw
    parsed = opp.json("customer", "show", "1")
    assert Decimal(str(parsed["totals"]["by_currency"][0]["open_value"])) == Decimal("0.30")


def test_show_as_a_table_has_the_deals_and_totals(opp):
    opp("create", "Big deal", "--org", "Initech", "--value", "50k")
    out = opp("customer", "show", "Initech").stdout
    assert "Initech" in out
    assert "\nopportunities\n" in out
    assert "Big deal" in out
    assert "\ntotals\n" in out
    assert "50,000.00" in out


def test_show_as_csv_has_a_row_per_currency_of_the_totals(opp):
    opp("create", "Deal", "--org", "Initech", "--value", "10")
    lines = opp("customer", "show", "1", "--format", "csv").stdout.splitlines()
    assert lines == [
        "id,kind,name,email,phone,employer_id,employer,job_title,currency,open_value,open_forecast,"
        "won_value,lost_value,billed,unbilled",
        "1,organization,Initech,,,,,,USD,10.00,1.50,0.00,0.00,0.00,0.00",
    ]
