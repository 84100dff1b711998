"""People at organizations (employer, job title, customer edit) and the contacts of a deal."""

from __future__ import annotations

import pytest

CUSTOMER_KEYS = ["id", "kind", "name", "email", "phone", "employer", "job_title", "fields"]


@pytest.fixture
def acme(opp):
    """Initech (1), Acme Corp (2), Ada Lovelace at Acme (3), Bob Loblaw with no employer (4), a deal (1)."""
    opp("customer", "add", "--org", "Acme Corp")
    opp("customer", "add", "--person", "Ada Lovelace", "--employer", "Acme Corp", "--job-title", "CTO")
    opp("customer", "add", "--person", "Bob Loblaw")
    opp("create", "Acme - platform", "--org", "Acme Corp", "--value", "5000")
    return opp


# -- people at organizations ---------------------------------------------------------------------------


def test_a_person_added_with_an_employer_and_job_title(opp):
    opp("customer", "add", "--org", "Acme Corp")
    added = opp.json(
        "customer", "add", "--person", "Ada Lovelace", "--employer", "Acme Corp", "--job-title", "CTO"
    )
    assert list(added) == CUSTOMER_KEYS
    assert added["employer"] == {"id": 2, "name": "Acme Corp"}
    assert added["job_title"] == "CTO"
    by_id = opp.json("customer", "add", "--person", "Bob", "--employer", "2")
    assert by_id["employer"] == {"id": 2, "name": "Acme Corp"} and by_id["job_title"] is None


def test_customer_show_of_an_organization_lists_its_people(acme):
    shown = acme.json("customer", "show", "Acme Corp")
    assert [person["name"] for person in shown["people"]] == ["Ada Lovelace"]
    assert shown["people"][0]["job_title"] == "CTO"
    assert list(shown)[:9] == [*CUSTOMER_KEYS, "people"]
    assert acme.json("customer", "show", "Ada Lovelace")["people"] is None
    table = acme("customer", "show", "Acme Corp").stdout
    assert "people" in table and "Ada Lovelace" in table


def test_customer_list_filters_by_employer_and_csv_has_flat_columns(acme):
    assert [c["name"] for c in acme.json("customer", "list", "--employer", "Acme Corp")] == ["Ada Lovelace"]
    lines = acme("customer", "list", "--format", "csv").stdout.splitlines()
    assert lines[0] == "id,kind,name,email,phone,employer_id,employer,job_title"
    assert lines[3] == "3,individual,Ada Lovelace,,,2,Acme Corp,CTO"
    assert lines[4] == "4,individual,Bob Loblaw,,,,,"


def test_an_employer_must_be_an_organization(acme, unchanged):
    check = unchanged()
    error = acme.fails(2, "customer", "add", "--person", "Carl", "--employer", "Ada Lovelace")
    assert "is an individual; an employer must be an organization" in error
    acme.fails(2, "customer", "edit", "Bob Loblaw", "--employer", "Ada Lovelace")
    check()


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("customer", "add", "--person", "Carl", "--employer", "Nobody Inc"), 3, "no customer 'Nobody Inc'"),
        (("customer", "add", "--org", "Hooli", "--employer", "Acme Corp"), 2, "belong to a person"),
        (("customer", "add", "--org", "Hooli", "--job-title", "CEO"), 2, "belong to a person"),
        (("customer", "edit", "Acme Corp", "--job-title", "Boss"), 2, "only an individual"),
        (("customer", "edit", "Acme Corp", "--employer", "Initech"), 2, "only an individual"),
        (("customer", "edit", "Nobody"), 2, "nothing to change"),
        (("customer", "edit", "Nobody", "--name", "X"), 3, "no customer 'Nobody'"),
        (("customer", "edit", "Bob Loblaw", "--name", ""), 2, "customer name must not be empty"),
        (("customer", "edit", "Bob Loblaw", "--email", "nope"), 2, "invalid email address"),
        (("customer", "edit", "Bob Loblaw", "--job-title", "x" * 201), 2, "job title is 201 characters"),
        (("customer", "edit", "Bob Loblaw", "--name", "Ada Lovelace"), 4, "already exists as customer 3"),
    ],
)
def test_bad_customer_changes_change_nothing(acme, unchanged, args, code, expected):
    check = unchanged()
    assert expected in acme.fails(code, *args)
    check()


def test_customer_edit_changes_every_field_and_clears_with_empty_text(acme):
    edited = acme.json(
        "customer",
        "edit",
        "Bob Loblaw",
        "--name",
        "Robert Loblaw",
        "--email",
        "bob@acme.test",
        "--phone",
        "+1 555",
        "--employer",
        "Acme Corp",
        "--job-title",
        "Buyer",
    )
    assert edited == {
        "id": 4,
        "kind": "individual",
        "name": "Robert Loblaw",
        "email": "bob@acme.test",
        "phone": "+1 555",
        "employer": {"id": 2, "name": "Acme Corp"},
        "job_title": "Buyer",
        "fields": {},
    }
    cleared = acme.json(
        "customer", "edit", "4", "--employer", "", "--job-title", "", "--email", "", "--phone", ""
    )
    assert (cleared["employer"], cleared["job_title"], cleared["email"], cleared["phone"]) == (None,) * 4
    assert (
        acme.json("customer", "edit", "Acme Corp", "--name", "Acme Corporation")["name"] == "Acme Corporation"
    )
    assert acme.json("customer", "show", "3")["employer"] == {"id": 2, "name": "Acme Corporation"}


def test_undo_takes_a_customer_edit_back(acme):
    before = acme.json("customer", "show", "Ada Lovelace")
    acme("customer", "edit", "Ada Lovelace", "--job-title", "CEO", "--employer", "", "--email", "ada@x.test")
    result = acme.json("undo")
    assert (result["name"], result["events"]) == ("customer edit", 3)
    assert acme.json("customer", "show", "3") == before
    assert "nothing to undo" in acme.fails(4, "undo", OPP_USER="sam")


def test_an_edit_that_changes_nothing_leaves_nothing_to_undo(acme):
    acme("customer", "edit", "Ada Lovelace", "--job-title", "CTO")
    assert acme.json("undo")["name"] == "create"  # the edit wrote nothing: the last change is the deal


def test_undo_of_a_customer_edit_is_refused_after_another_users_edit(acme, unchanged):
    acme("customer", "edit", "Ada Lovelace", "--job-title", "CEO")
    acme("customer", "edit", "Ada Lovelace", "--phone", "123", OPP_USER="sam")
    check = unchanged()
    assert "customer 3 was changed by sam since" in acme.fails(4, "undo")
    check()


# -- deal contacts -------------------------------------------------------------------------------------


def test_contact_add_list_remove(acme):
    added = acme.json("contact", "add", "1", "Ada Lovelace", "--role", "decision maker")
    assert added == [
        {"customer": {"id": 3, "kind": "individual", "name": "Ada Lovelace"}, "role": "decision maker"}
    ]
    acme("contact", "add", "1", "4")
    listed = acme.json("contact", "list", "1")
    assert [(c["customer"]["id"], c["role"]) for c in listed] == [(3, "decision maker"), (4, None)]
    assert acme("contact", "list", "1", "--format", "ids").stdout == "3\n4\n"
    shown = acme.json("show", "1")
    assert shown["contacts"] == listed
    assert "decision maker" in acme("show", "1").stdout
    assert acme.json("contact", "remove", "1", "Ada Lovelace") == [listed[1]]
    assert acme.json("contact", "list", "1") == [listed[1]]


def test_contacts_are_history_events_of_the_deal(acme):
    acme("contact", "add", "1", "Ada Lovelace", "--role", "sponsor")
    acme("contact", "remove", "1", "Ada Lovelace")
    events = acme.json("history", "1", "--action", "contact")
    assert [(e["field"], e["old"], e["new"], e["note"]) for e in events] == [
        (
            "contact",
            None,
            {"id": 3, "name": "Ada Lovelace", "role": "sponsor"},
            "added Ada Lovelace (sponsor)",
        ),
        (
            "contact",
            {"id": 3, "name": "Ada Lovelace", "role": "sponsor"},
            None,
            "removed Ada Lovelace (sponsor)",
        ),
    ]
    table = acme("history", "1").stdout
    assert "{" not in table and "Ada Lovelace" in table
    csv_lines = acme("history", "1", "--format", "csv").stdout
    assert '""role"": ""sponsor""' in csv_lines


def test_adding_a_contact_twice_changes_nothing(acme, unchanged):
    acme("contact", "add", "1", "Ada Lovelace", "--role", "sponsor")
    check = unchanged()
    assert acme.json("contact", "add", "1", "Ada Lovelace")[0]["role"] == "sponsor"
    acme("contact", "add", "1", "Ada Lovelace", "--role", "sponsor")
    check()
    changed = acme.json("contact", "add", "1", "Ada Lovelace", "--role", "decision maker")
    assert changed[0]["role"] == "decision maker"
    acme("undo")
    assert acme.json("contact", "list", "1")[0]["role"] == "sponsor"


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (("contact", "add", "1", "Acme Corp"), 2, "is an organization; a deal's contact is a person"),
        (("contact", "add", "1", "Nobody"), 3, "no customer 'Nobody'"),
        (("contact", "add", "99", "Ada Lovelace"), 3, "no opportunity 99"),
        (("contact", "add", "x", "Ada Lovelace"), 2, "opportunity id must be a positive integer"),
        (("contact", "add", "1", "Ada Lovelace", "--role", "r" * 201), 2, "role is 201 characters"),
        (("contact", "remove", "1", "Bob Loblaw"), 3, "is not a contact of opportunity 1"),
        (("contact", "remove", "1", "Nobody"), 3, "no customer 'Nobody'"),
        (("contact", "list", "99"), 3, "no opportunity 99"),
    ],
)
def test_bad_contact_commands_change_nothing(acme, unchanged, args, code, expected):
    acme("contact", "add", "1", "Ada Lovelace")
    check = unchanged()
    assert expected in acme.fails(code, *args)
    check()


def test_undo_takes_contact_changes_back(acme):
    acme("contact", "add", "1", "Ada Lovelace", "--role", "sponsor")
    acme("contact", "add", "1", "Bob Loblaw")
    acme("contact", "remove", "1", "Ada Lovelace")
    assert [c["customer"]["id"] for c in acme.json("contact", "list", "1")] == [4]
    assert acme.json("undo")["name"] == "contact remove"
    assert [(c["customer"]["id"], c["role"]) for c in acme.json("contact", "list", "1")] == [
        (4, None),
        (3, "sponsor"),
    ]
    acme("undo")
    acme("undo")
    assert acme.json("contact", "list", "1") == []
    undo_events = acme.json("history", "1", "--action", "undo")
    assert len(undo_events) == 3 and all(e["field"] == "contact" for e in undo_events)


def test_undo_of_a_contact_change_is_refused_after_another_users_change_to_the_deal(acme, unchanged):
    acme("user", "add", "sam")
    acme("contact", "add", "1", "Ada Lovelace")
    acme("note", "1", "Called Ada", OPP_USER="sam")
    check = unchanged()
    assert "was changed by sam since" in acme.fails(4, "undo")
    check()


def test_contacts_complete_with_individuals_only(acme):
    from tests.test_completions import bash_complete

    assert bash_complete(acme, "opp contact add 1 ") == ["Ada\\ Lovelace", "Bob\\ Loblaw"]
    assert bash_complete(acme, "opp customer add --person X --employer ") == ["Acme\\ Corp", "Initech"]
    assert bash_complete(acme, "opp note 1 hi --kind m") == ["meeting"]
    assert bash_complete(acme, "opp notes --kind ") == ["internal", "customer", "meeting"]


def test_the_core_api_adds_and_lists_contacts(acme):
    from opp.core.context import open_context
    from opp.core.work import contacts

    ctx = open_context(acme.db, actor="dana")
    try:
        found = contacts.add_contact(ctx, 1, "Ada Lovelace", role="  champion ")
        assert [(c.customer.name, c.role) for c in found] == [("Ada Lovelace", "champion")]
        assert contacts.list_contacts(ctx, "1") == found
    finally:
        ctx.close()


def test_the_migration_goes_down_and_up_again_with_people_on_deals(acme):
    from alembic import command
    from sqlalchemy import text

    from opp.core.context import open_context
    from tests.test_store import alembic_config

    acme("contact", "add", "1", "Ada Lovelace")
    ctx = open_context(acme.db, actor="dana")
    try:
        with ctx.store.write() as conn:
            command.downgrade(alembic_config(conn), "0006")
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0006"
    finally:
        ctx.close()
    upgraded = acme.json("db", "upgrade")
    assert upgraded["schema_before"] == "0006"
    assert acme.json("customer", "show", "Ada Lovelace")["employer"] is None
    assert acme.json("contact", "list", "1") == []
