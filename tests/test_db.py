"""opp db: info, upgrade from the first schema, online backup, and copies between databases."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from tests.conftest import BACKEND, POSTGRES_URL, Cli, Databases

FIRST_SCHEMA = Path(__file__).parent / "data" / "schema-0001.db"


def test_info_shows_the_schema_and_counts(opp):
    opp("create", "Deal", "--org", "Initech", "--value", "10")
    info = opp.json("db", "info")
    assert info["schema"] == info["latest_schema"]
    assert info["counts"]["opportunities"] == 1
    assert info["counts"]["users"] == 1
    assert info["backend"] == BACKEND


def test_info_masks_the_password(opp):
    if BACKEND != "postgresql":
        pytest.skip("needs a URL with a password")
    info = opp.json("db", "info")
    assert "***" in info["url"]
    assert ":opp@" not in info["url"]


def test_a_database_of_the_first_schema_is_upgraded_with_its_data(tmp_path):
    db = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA, db)
    cli = Cli(db)
    upgraded = cli.json("db", "upgrade")
    assert upgraded["schema_before"] == "0001"
    assert upgraded["schema"] == cli.json("db", "info")["latest_schema"]
    deal = cli.json("show", 1)
    assert (deal["title"], deal["value"], deal["currency"], deal["stage"], deal["probability"]) == (
        "Initech - TPS audit",
        12000,
        "EUR",
        "qualification",
        30,
    )
    assert deal["assignee"] == "dana" and deal["external_ref"] == "OLD-1"
    assert [e["action"] for e in deal["history"]] == ["created", "stage", "stage"]
    again = cli.json("db", "upgrade")
    assert again["schema_before"] == again["schema"]
    # The old database takes new work.
    assert cli.json("create", "New", "--org", "Initech")["id"] == 2


def test_opening_an_old_database_migrates_it_on_first_use(tmp_path):
    db = tmp_path / "old.db"
    shutil.copyfile(FIRST_SCHEMA, db)
    assert [d["id"] for d in Cli(db).json("list")] == [1]


def test_backup_is_a_consistent_owner_only_copy(opp, db_path, tmp_path):
    for i in range(5):
        opp("create", f"D{i}", "--org", "Initech", "--value", "10")
    target = tmp_path / "backup.db"
    result = opp.json("db", "backup", target)
    assert result["path"] == str(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    copy = Cli(target)
    assert [d["title"] for d in copy.json("list")] == [f"D{i}" for i in range(5)]
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_backup_while_another_writer_works(opp, db_path, tmp_path):
    """The backup API copies a consistent snapshot even with writes going on."""
    stop = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(db_path, timeout=30)
        while not stop.is_set():
            conn.execute("INSERT INTO settings (key, value) VALUES (hex(randomblob(8)), 'x')")
            conn.commit()
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        opp("db", "backup", tmp_path / "live.db")
    finally:
        stop.set()
        thread.join()
    conn = sqlite3.connect(tmp_path / "live.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_backup_refuses_an_existing_file(opp, db_path, tmp_path, unchanged):
    target = tmp_path / "exists.db"
    target.write_text("keep me")
    check = unchanged()
    assert "already exists" in opp.fails(4, "db", "backup", target)
    assert target.read_text() == "keep me"
    check()


def test_backup_of_postgresql_is_refused_with_a_hint(opp, tmp_path):
    if BACKEND != "postgresql":
        pytest.skip("a PostgreSQL database")
    assert "pg_dump" in opp.fails(4, "db", "backup", tmp_path / "x.db")


def _build(opp: Cli) -> None:
    opp("user", "add", "mo")
    opp("customer", "add", "--person", "Pat Doe")
    for i in range(3):
        opp("create", f"Deal {i}", "--org", "Initech", "--value", "1000", "--currency", "EUR")
    opp("stage", "qualification", 1, 2)
    opp("claim", 1)
    opp("stage", "lost", 3, "--reason", "budget")
    opp("rate", "set", "EUR", "USD", "1.1", "--date", "2026-01-01")
    opp("config", "set", "currency", "EUR")
    opp("stages", "add", "discovery", "--after", "lead", "--probability", "20")


def _state(cli: Cli) -> dict:
    return {
        "deals": cli.json("list", "--status", "all"),
        "history": cli.json("history"),
        "stages": cli.json("stages", "list"),
        "rates": cli.json("rate", "list"),
        "config": cli.json("config", "list"),
        "users": cli.json("user", "list"),
        "customers": cli.json("customer", "list"),
    }


def test_copy_keeps_ids_history_and_sequences(opp, databases):
    _build(opp)
    target = databases.new("copy")
    try:
        counts = opp.json("db", "copy", "--to", target)["counts"]
        assert counts["opportunities"] == 3
        copy = Cli(target)
        assert _state(copy) == _state(opp)
        # Sequences continue after the copied ids in the copy.
        assert copy.json("create", "Next", "--org", "Initech")["id"] == 4
        assert copy.json("customer", "add", "--org", "Umbrella")["id"] == 3
    finally:
        databases.drop(target)


def test_copy_from_sqlite_to_postgresql_and_back(tmp_path):
    if not POSTGRES_URL:
        pytest.skip("set OPP_TEST_DATABASE_URL to copy between backends")
    source = Cli(tmp_path / "source.db")
    source("user", "add", "dana")
    source("customer", "add", "--org", "Initech")
    _build(source)
    postgres = Databases(tmp_path, backend="postgresql")
    try:
        there = postgres.new("there")
        source("db", "copy", "--to", there)
        assert _state(Cli(there)) == _state(source)
        back = tmp_path / "back.db"
        Cli(there)("db", "copy", "--to", back)
        assert _state(Cli(back)) == _state(source)
        assert Cli(back).json("create", "Next", "--org", "Initech")["id"] == 4
    finally:
        postgres.close()


def test_copy_into_a_database_that_holds_data_is_refused(opp, databases):
    target = databases.new("full")
    try:
        Cli(target)("user", "add", "someone")
        assert "not empty" in opp.fails(4, "db", "copy", "--to", target)
        assert [u["handle"] for u in Cli(target).json("user", "list")] == ["someone"]
    finally:
        databases.drop(target)


def test_copy_onto_itself_is_refused(opp, db):
    assert "itself" in opp.fails(2, "db", "copy", "--to", db)
