"""The error boundary (exit codes, one-line messages, JSON errors) and the global settings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest


def json_error(outcome):
    """The JSON error object: the line after the one-line message on stderr."""
    lines = outcome.stderr.splitlines()
    assert len(lines) == 2, outcome
    assert lines[0].startswith("opp: error: ")
    return json.loads(lines[1])


@pytest.mark.parametrize(
    ("args", "code", "name", "message"),
    [
        (("customer", "add", "--org", "X", "--email", "bad"), 2, "invalid", "invalid email address 'bad'"),
        (("customer", "show", "Nobody"), 3, "not_found", "no customer 'Nobody'"),
        (("customer", "add", "--org", "Initech"), 4, "conflict", "organization 'Initech' already exists"),
        (("user", "list", "--bogus"), 2, "invalid", "No such option: --bogus"),
        (("customer", "show"), 2, "invalid", "Missing argument"),
    ],
)
def test_with_format_json_the_error_is_also_a_json_object(opp, unchanged, args, code, name, message):
    check = unchanged()
    outcome = opp(*args, "--format", "json", code=code)
    assert outcome.stdout == ""
    error = json_error(outcome)["error"]
    assert error["code"] == name
    assert error["message"].startswith(message)
    assert outcome.stderr.splitlines()[0].startswith("opp: error: " + error["message"])
    check()


@pytest.mark.parametrize("how", [("-f", "json"), ("--format=json",), ("-fjson",)])
def test_every_spelling_of_format_json_gives_the_json_error(opp, how):
    outcome = opp("customer", "show", "Nobody", *how, code=3)
    assert json_error(outcome)["error"]["code"] == "not_found"


def test_opp_format_json_gives_the_json_error(opp):
    outcome = opp("customer", "show", "Nobody", code=3, OPP_FORMAT="json")
    assert json_error(outcome)["error"] == {
        "code": "not_found",
        "message": "no customer 'Nobody'",
        "hint": "see opp customer list, or add it with opp customer add --org NAME",
    }


def test_without_json_the_error_is_one_line(opp):
    outcome = opp("customer", "show", "Nobody", code=3)
    assert outcome.stderr.count("\n") == 1
    assert outcome.stderr.startswith("opp: error: no customer 'Nobody' (hint: ")


def test_an_unknown_option_is_a_usage_error(opp):
    line = opp.fails(2, "user", "add", "fox", "--colour", "red")
    assert "No such option: --colour" in line


def test_an_unknown_command_is_a_usage_error(opp):
    assert "No such command 'frobnicate'" in opp.fails(2, "frobnicate")


@pytest.fixture
def broken(monkeypatch):
    """A core function that fails as a bug would."""
    from opp.core.pipeline import users

    def boom(*_args, **_kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(users, "list_users", boom)


def test_an_internal_error_is_exit_1_and_one_line(opp, broken):
    line = opp.fails(1, "user", "list")
    assert line.startswith("opp: error: internal error: RuntimeError: kaboom")
    assert "OPP_DEBUG=1" in line
    outcome = opp("user", "list", code=1)
    assert outcome.stderr.count("\n") == 1


def test_an_internal_error_as_json(opp, broken):
    outcome = opp("user", "list", "-f", "json", code=1)
    assert json_error(outcome)["error"]["code"] == "internal"


def test_opp_debug_shows_the_traceback(opp, broken):
    with pytest.raises(RuntimeError, match="kaboom"):
        opp("user", "list", OPP_DEBUG="1")


def test_opp_debug_0_is_off(opp, broken):
    opp.fails(1, "user", "list", OPP_DEBUG="0")


def test_as_beats_opp_user(opp):
    opp("user", "add", "eve")
    deal = opp.json("--as", "eve", "create", "Deal", "--org", "Initech", OPP_USER="dana")
    opp("--as", "eve", "claim", deal["id"], OPP_USER="dana")
    events = opp.json("history", deal["id"])
    assert [event["actor"] for event in events] == ["eve", "eve"]
    assert opp.json("show", deal["id"])["assignee"] == "eve"


def test_opp_user_is_the_actor_without_as(opp):
    deal = opp.json("create", "Deal", "--org", "Initech", OPP_USER="zed")
    assert opp.json("history", deal["id"])[0]["actor"] == "zed"


def test_db_beats_opp_db(cli, tmp_path):
    other = tmp_path / "other.db"
    cli("--db", str(other), "user", "add", "fox")
    assert [u["handle"] for u in cli.json("--db", str(other), "user", "list")] == ["fox"]
    assert cli.json("user", "list") == []  # the OPP_DB database did not get the user


def test_db_accepts_an_sqlite_url(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'url.db'}"
    cli("--db", url, "user", "add", "fox")
    assert (tmp_path / "url.db").exists()
    assert cli.json("user", "list", OPP_DB=url)[0]["handle"] == "fox"


def test_a_bad_database_url_is_invalid(cli):
    line = cli.fails(2, "user", "list", OPP_DB="postgresql://ann:s3cret@:x:y/z")
    assert "cannot parse database URL" in line
    assert "s3cret" not in line


@pytest.mark.parametrize("value", ["garbage", "2026-02-30T00:00:00Z", "yesterday-ish"])
def test_invalid_opp_now(cli, value):
    line = cli.fails(2, "user", "list", OPP_NOW=value)
    assert f"invalid OPP_NOW value {value!r}" in line


def test_opp_now_sets_the_clock(opp):
    deal = opp.json("create", "Deal", "--org", "Initech", OPP_NOW="2030-01-02T03:04:05Z")
    assert deal["created_at"] == "2030-01-02T03:04:05Z"


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "100000"])
def test_invalid_lock_timeout(cli, value):
    assert "OPP_LOCK_TIMEOUT must be a number of seconds" in cli.fails(
        2, "user", "list", OPP_LOCK_TIMEOUT=value
    )


def test_a_database_in_a_directory_that_cannot_be_created(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = blocker / "sub" / "opp.db"
    line = cli.fails(5, "user", "list", OPP_DB=str(path))
    assert "cannot create the database" in line
    assert not path.exists()


def test_a_database_that_is_not_sqlite(cli, tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database, just some text that is long enough" * 100)
    before = path.read_bytes()
    assert "cannot" in cli.fails(5, "user", "list", OPP_DB=str(path))
    assert path.read_bytes() == before


def test_a_database_from_a_newer_opp_is_refused_and_left_untouched(cli, tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    line = cli.fails(5, "user", "list", OPP_DB=str(path))
    assert "the database's schema (9999) is newer than this opp knows" in line
    assert "upgrade opp" in line
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("future")) == ["future.db"]


def test_a_locked_database_is_unavailable(cli, db_path: Path, unchanged):
    cli("user", "list")  # create and migrate it first
    check = unchanged()
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        line = cli.fails(5, "user", "add", "fox", OPP_LOCK_TIMEOUT="0.2")
        assert "locked" in line
        assert "OPP_LOCK_TIMEOUT" in line
        # reading is not blocked by a writer
        assert cli.json("user", "list", OPP_LOCK_TIMEOUT="0.2") == []
    finally:
        holder.rollback()
        holder.close()
    check()
    cli("user", "add", "fox", OPP_LOCK_TIMEOUT="0.2")


def test_a_locked_database_as_json(cli, db_path: Path):
    cli("user", "list")
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        outcome = cli("user", "add", "fox", "-f", "json", code=5, OPP_LOCK_TIMEOUT="0")
    finally:
        holder.rollback()
        holder.close()
    assert json_error(outcome)["error"]["code"] == "unavailable"
