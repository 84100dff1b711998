"""opp user add / list."""

from __future__ import annotations

import pytest


def test_add_a_user(cli):
    added = cli.json("user", "add", "j.smith", "--name", "Jo Smith", "--email", "jo@example.com")
    assert added == {"handle": "j.smith", "name": "Jo Smith", "email": "jo@example.com"}


def test_add_a_user_with_only_a_handle(cli):
    assert cli.json("user", "add", " sam_2 ") == {"handle": "sam_2", "name": None, "email": None}


def test_a_handle_of_64_characters_is_allowed(cli):
    assert cli.json("user", "add", "a" * 64)["handle"] == "a" * 64


@pytest.mark.parametrize(
    "handle",
    ["Dana", "DANA", "two words", "a" * 65, "", ".dot-first", "_x", "é", "semi;colon", "a/b"],
)
def test_bad_handles_are_invalid(opp, unchanged, handle):
    check = unchanged()
    line = opp.fails(2, "user", "add", handle)
    assert "invalid user handle" in line
    assert "lower-case" in line
    check()


def test_bad_email_is_invalid(opp, unchanged):
    check = unchanged()
    assert "invalid email address 'nope'" in opp.fails(2, "user", "add", "fox", "--email", "nope")
    check()


def test_too_long_name_is_invalid(opp, unchanged):
    check = unchanged()
    assert "name is 201 characters long" in opp.fails(2, "user", "add", "fox", "--name", "n" * 201)
    check()


def test_duplicate_handle_is_a_conflict(opp, unchanged):
    check = unchanged()
    assert "user 'dana' already exists" in opp.fails(4, "user", "add", "dana", "--name", "Other Dana")
    check()


def test_list_is_ordered_by_handle_with_the_contract_keys(cli):
    for handle in ("zoe", "adam", "mia"):
        cli("user", "add", handle, "--email", f"{handle}@example.com")
    listed = cli.json("user", "list")
    assert [user["handle"] for user in listed] == ["adam", "mia", "zoe"]
    assert all(list(user) == ["handle", "name", "email"] for user in listed)
    assert listed[0] == {"handle": "adam", "name": None, "email": "adam@example.com"}


def test_list_ids_prints_handles(opp):
    opp("user", "add", "ann")
    assert opp("user", "list", "--format", "ids").stdout == "ann\ndana\n"


def test_empty_list(cli):
    assert cli.json("user", "list") == []
    out = cli("user", "list")
    assert out.stdout == ""
    assert "no users yet" in out.stderr


# -- user edit -----------------------------------------------------------------------------------------


def test_edit_changes_only_the_fields_given(cli):
    cli("user", "add", "ann", "--name", "Ann Lee", "--email", "ann@example.com")
    assert cli.json("user", "edit", "ann", "--email", " ann.lee@example.com ") == {
        "handle": "ann",
        "name": "Ann Lee",
        "email": "ann.lee@example.com",
    }
    assert cli.json("user", "edit", "ann", "--name", "Ann Lee-Park")["email"] == "ann.lee@example.com"
    assert cli.json("user", "list")[0] == {
        "handle": "ann",
        "name": "Ann Lee-Park",
        "email": "ann.lee@example.com",
    }


def test_edit_with_empty_text_clears_a_field(cli):
    cli("user", "add", "ann", "--name", "Ann Lee", "--email", "ann@example.com")
    assert cli.json("user", "edit", "ann", "--name", "", "--email", "") == {
        "handle": "ann",
        "name": None,
        "email": None,
    }


def test_edit_keeps_the_users_deals_and_history(opp):
    opp("create", "Deal", "--org", "Initech", "--assign", "dana")
    opp("user", "edit", "dana", "--name", "Dana K. Scully")
    assert opp.json("show", "1")["assignee"] == "dana"
    assert [e["actor"] for e in opp.json("history", "1")] == ["dana"]


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["nobody", "--name", "X"], 3, "no user 'nobody'"),
        (["dana", "--email", "nope"], 2, "invalid email address 'nope'"),
        (["dana", "--name", "Dana", "--email", "nope"], 2, "invalid email address 'nope'"),
        (["dana", "--name", "n" * 201], 2, "name is 201 characters long"),
    ],
)
def test_edit_refuses_bad_input_and_changes_nothing(opp, unchanged, args, code, fragment):
    check = unchanged()
    assert fragment in opp.fails(code, "user", "edit", *args)
    check()
