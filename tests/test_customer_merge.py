"""Duplicate customers: opp customer dupes finds them, opp customer merge KEEP DROP joins them (undoable)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from opp.core.pipeline.merge import CUSTOMER_REFERENCES, LEGAL_FORMS, normalized_name
from opp.store import schema


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Inc", "ACME, Inc."),
        ("Acme", "Acme Ltd"),
        ("Acme", "Acme LLC"),
        ("Müller", "Muller GmbH"),
        ("Nordic Fish", "Nordic  Fish AS"),
        ("Volvo", "Volvo AB"),
        ("Zara", "Zara S.A."),
        ("Zara", "Zara SA"),
        ("Telefónica", "Telefonica S.L."),
        ("Smith", "Smith & Co."),
        ("Ac-Me", "Ac Me"),
        ("Café Paris", "cafe paris"),
    ],
)
def test_names_that_normalise_alike(a, b):
    assert normalized_name(a) == normalized_name(b)


@pytest.mark.parametrize(("a", "b"), [("Acme", "Acne"), ("Co", "Cola"), ("AS", "ASA Group")])
def test_names_that_stay_apart(a, b):
    assert normalized_name(a) != normalized_name(b)


def test_a_name_that_is_only_a_legal_form_is_kept():
    assert normalized_name("AS") == "as"
    assert normalized_name("Inc.") == "inc"


def test_every_foreign_key_to_customers_is_moved_by_a_merge():
    """A table that refers to customers (tickets, field values ...) must be in CUSTOMER_REFERENCES."""
    references = {
        (fk.parent.table.name, fk.parent.name)
        for table in schema.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "customers"
    }
    listed = {(reference.table, reference.column) for reference in CUSTOMER_REFERENCES}
    assert references == listed
    for reference in CUSTOMER_REFERENCES:
        if reference.how == "row":
            assert "id" in schema.metadata.tables[reference.table].c, reference


@pytest.fixture
def twins(opp):
    """Initech (1) and its duplicate INITECH Inc. (2, one deal), people at both, contacts, an invoice."""
    opp("user", "add", "sam")
    opp("customer", "add", "--org", "INITECH Inc.", "--email", "info@initech.test", "--phone", "555")
    opp("customer", "add", "--person", "Ada Lovelace", "--employer", "1")
    opp("customer", "add", "--person", "Ada lovelace", "--employer", "2", "--job-title", "CTO")
    opp("customer", "add", "--person", "Bob", "--email", "BOB@x.test")
    opp("customer", "add", "--person", "Robert", "--email", "bob@x.test")
    opp("create", "One", "--org", "Initech", "--value", "100")  # 1
    opp("create", "Two", "--org", "Initech", "--value", "200")  # 2
    opp("create", "Three", "--org", "INITECH Inc.", "--value", "300")  # 3
    opp("contact", "add", "1", "Ada Lovelace", "--role", "sponsor")
    opp("contact", "add", "1", "Ada lovelace", "--role", "engineer")
    opp("contact", "add", "3", "Ada lovelace", "--role", "CTO")
    opp("bill", "add", "3", "--item", "Setup", "--price", "300")
    opp("stage", "won", "3", "--force")
    opp("bill", "invoice", "3")
    return opp


def test_dupes_lists_pairs_keep_first(twins):
    found = twins.json("customer", "dupes")
    assert [list(pair) for pair in found] == [["keep", "drop", "reason"]] * 3
    assert [(p["keep"]["id"], p["drop"]["id"], p["reason"]) for p in found] == [
        (1, 2, "same name"),  # Initech has two deals, INITECH Inc. one
        (3, 4, "same name"),  # no deals: the older one stays
        (5, 6, "same email bob@x.test"),
    ]
    assert found[0]["keep"] == {"id": 1, "kind": "organization", "name": "Initech"}
    csv_lines = twins("customer", "dupes", "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == "keep_id,keep_kind,keep,drop_id,drop_kind,drop,reason"
    assert len(csv_lines) == 4
    table = twins("customer", "dupes").stdout
    assert "INITECH Inc." in table and "{" not in table


def test_dupes_never_pairs_an_organization_with_a_person(opp):
    opp("customer", "add", "--person", "Initech")
    assert opp.json("customer", "dupes") == []
    assert "no duplicates found" in opp("customer", "dupes").stderr


def test_merge_moves_deals_contacts_people_and_invoices(twins):
    before_invoice = twins.json("invoice", "show", twins.json("invoice", "list")[0]["number"])
    result = twins.json("customer", "merge", "Initech", "INITECH Inc.")
    assert result == {
        "keep": {"id": 1, "kind": "organization", "name": "Initech"},
        "drop": {"id": 2, "kind": "organization", "name": "INITECH Inc."},
        "moved": {
            "opportunities.customer_id": 1,
            "deal_contacts.customer_id": 0,
            "customers.employer_id": 1,
            "invoices.customer_id": 1,
            "tickets.customer_id": 0,
        },
    }
    twins.fails(3, "customer", "show", "2")
    kept = twins.json("customer", "show", "1")
    assert [deal["title"] for deal in kept["opportunities"]] == ["One", "Two", "Three"]
    assert sorted(person["id"] for person in kept["people"]) == [3, 4]
    # KEEP had no email or phone: it takes DROP's
    assert (kept["email"], kept["phone"]) == ("info@initech.test", "555")
    event = twins.json("history", "3", "--action", "updated")[-1]
    assert (event["field"], event["old"], event["new"]) == ("customer_id", "2", "1")
    # the invoice keeps the name it was issued to
    invoice = twins.json("invoice", "show", before_invoice["number"])
    assert invoice["customer"] == {**before_invoice["customer"], "id": 1}
    assert invoice["customer"]["name"] == "INITECH Inc."


def test_merging_people_moves_contact_places(twins):
    twins("customer", "merge", "Ada Lovelace", "Ada lovelace")
    # deal 1 had both: Ada Lovelace keeps hers; deal 3 had only the duplicate: it is now Ada Lovelace
    assert [(c["customer"]["id"], c["role"]) for c in twins.json("contact", "list", "1")] == [(3, "sponsor")]
    assert [(c["customer"]["id"], c["role"]) for c in twins.json("contact", "list", "3")] == [(3, "CTO")]
    # KEEP had no job title: it takes DROP's; it keeps its own employer
    kept = twins.json("customer", "show", "3")
    assert (kept["job_title"], kept["employer"]["id"]) == ("CTO", 1)


def test_undo_of_a_merge_brings_everything_back(twins, unchanged):
    def state():
        return {
            "customers": twins.json("customer", "list"),
            "deals": [(d["id"], d["customer"]) for d in twins.json("list", "--status", "all")],
            "contacts": {deal: twins.json("contact", "list", deal) for deal in ("1", "2", "3")},
            "invoices": [(i["number"], i["customer"]) for i in twins.json("invoice", "list")],
            "people": twins.json("customer", "show", "2")["people"],
        }

    before = state()
    twins("customer", "merge", "1", "2")
    twins("customer", "merge", "Ada Lovelace", "Ada lovelace")
    assert twins.json("undo")["name"] == "customer merge"
    result = twins.json("undo")
    assert (result["name"], result["restored"]) == ("customer merge", [3])
    assert state() == before
    shown = twins.json("customer", "show", "2")
    assert (shown["email"], shown["phone"]) == ("info@initech.test", "555")
    assert twins.json("customer", "show", "1")["email"] is None
    undo = twins.json("history", "3", "--action", "undo")[-1]
    assert (undo["field"], undo["old"], undo["new"]) == ("customer_id", "1", "2")


def test_undo_of_a_merge_is_refused_after_another_user_changed_a_moved_deal(twins, unchanged):
    twins("customer", "merge", "1", "2")
    twins("edit", "3", "--title", "Three (renamed)", OPP_USER="sam")
    check = unchanged()
    assert "opportunity 3 was changed by sam since" in twins.fails(4, "undo")
    check()


def test_as_of_an_earlier_day_still_sees_the_merged_deals(twins):
    twins("customer", "merge", "1", "2", OPP_NOW="2026-03-20T10:00:00Z")
    old = twins.json("list", "--status", "all", "--as-of", "2026-03-15")
    assert [(d["id"], d["customer"]["id"]) for d in old] == [(1, 1), (2, 1), (3, 1)]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("1", "1"), 2, "cannot be merged into itself"),
        (("Initech", "Ada Lovelace"), 2, "only customers of one kind merge"),
        (("1", "99"), 3, "no customer '99'"),
        (("Nobody", "2"), 3, "no customer 'Nobody'"),
        (("1", ""), 2, "customer reference must not be empty"),
    ],
)
def test_bad_merges_change_nothing(twins, unchanged, args, code, expected):
    check = unchanged()
    assert expected in twins.fails(code, "customer", "merge", *args)
    check()


LETTERS = "abcdefghijklmnopqrstuvwxyzéèüöñçåøß"
WORDS = st.text(
    alphabet=st.sampled_from(LETTERS + LETTERS.upper().replace("SS", "")), min_size=2, max_size=10
)


@given(
    words=st.lists(WORDS, min_size=1, max_size=3),
    form=st.sampled_from(["Inc", "Ltd.", "LLC", "GmbH", "AS", "AB", "SA", "S.L.", "Co.", "Co., Ltd."]),
    punctuation=st.sampled_from([",", ".", " -", " "]),
)
def test_case_punctuation_and_a_legal_form_never_change_the_normalised_name(words, form, punctuation):
    assume(not any(normalized_name(word) in LEGAL_FORMS for word in words))  # "Acme Co" is "Acme"
    name = " ".join(words)
    assert normalized_name(name.upper()) == normalized_name(name.lower()) == normalized_name(name)
    assert normalized_name(f"{name}{punctuation} {form}") == normalized_name(name)
    assert normalized_name(name.replace(" ", "")) == normalized_name(name)


def test_merge_moves_the_tickets_of_drop_and_undo_moves_them_back(twins):
    lone = twins.json("ticket", "add", "--customer", "INITECH Inc.", "Printer on fire")["id"]
    on_deal = twins.json("ticket", "add", "3", "Setup help")["id"]
    moved = twins.json("customer", "merge", "Initech", "INITECH Inc.")["moved"]
    assert moved["tickets.customer_id"] == 2
    assert twins.json("ticket", "show", lone)["customer"]["id"] == 1
    assert twins.json("ticket", "show", on_deal)["customer"]["id"] == 1
    twins("undo")
    assert twins.json("ticket", "show", lone)["customer"]["id"] == 2
    assert twins.json("ticket", "show", on_deal)["customer"]["id"] == 2


def test_merge_takes_the_tasks_of_drops_deals_along_and_undo_takes_them_back(twins):
    task = twins.json("task", "add", "3", "Send the contract", "--due", "2026-03-20")["id"]

    def tasks_of(ref):
        return {e["task_id"] for e in twins.json("timeline", "--customer", ref) if e["task_id"] is not None}

    assert tasks_of("INITECH Inc.") == {task}
    twins.json("customer", "merge", "Initech", "INITECH Inc.")
    assert tasks_of("Initech") == {task}
    assert [t["opportunity_id"] for t in twins.json("task", "list") if t["id"] == task] == [3]
    twins("undo")
    assert (tasks_of("Initech"), tasks_of("INITECH Inc.")) == (set(), {task})
