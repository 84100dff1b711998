"""The store: file permissions, where the default database lives, migrations against schema.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, inspect, text

from opp.core.context import open_context
from opp.store import engine as store_engine
from opp.store import schema, search

MIGRATIONS = Path(store_engine.__file__).parent / "migrations"


def alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_database_file_is_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "new.db"
        open_context(str(path), actor="dana").close()
    finally:
        os.umask(old)
    assert mode_of(path) == 0o600


def test_the_cli_creates_an_owner_only_file(cli, db_path):
    cli("user", "list")
    assert mode_of(db_path) == 0o600


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    open_context(str(path), actor="dana").close()
    assert mode_of(path) == 0o640


@pytest.mark.slow
def test_the_default_database_lives_in_the_user_data_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPP_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"), OPP_USER="dana")
    result = subprocess.run(
        [sys.executable, "-m", "opp", "user", "add", "fox"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    expected = tmp_path / "xdg" / "opp" / "opp.db"
    assert expected.is_file()
    assert mode_of(expected) == 0o600


def test_the_default_database_path_follows_platformdirs(monkeypatch, tmp_path):
    from opp.cli import state

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert state.default_db_path() == str(tmp_path / "data" / "opp" / "opp.db")


def reflect(url: str) -> dict[str, dict[str, object]]:
    """Each table's columns, indexes, unique constraints and foreign keys as the database has them
    (but the search index's tables, which live outside schema.py: see opp.store.search)."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        inspector = inspect(engine)
        return {
            name: describe(table, inspector.get_unique_constraints(name))
            for name, table in metadata.tables.items()
            if name != "alembic_version" and not is_index_table(name)
        }
    finally:
        engine.dispose()


def is_index_table(name):
    """Whether a SQLite table belongs to the search index (a virtual table or one of its shadow tables)."""
    return any(name == fts or name.startswith(fts + "_") for fts in search.FTS_TABLES)


def describe(table, unique_constraints=None):
    if unique_constraints is None:  # from schema.py
        unique = sorted(
            tuple(c.name for c in constraint.columns)
            for constraint in table.constraints
            if constraint.__class__.__name__ == "UniqueConstraint"
        )
    else:
        unique = sorted(tuple(u["column_names"]) for u in unique_constraints)
    return {
        "columns": [(c.name, c.nullable, c.primary_key) for c in table.columns],
        "indexes": sorted(
            (ix.name, tuple(c.name for c in ix.columns), bool(ix.unique)) for ix in table.indexes
        ),
        "unique": unique,
        "foreign_keys": sorted(
            (fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys
        ),
    }


def test_migrations_create_exactly_the_tables_of_schema_py(tmp_path):
    path = tmp_path / "fresh.db"
    open_context(str(path), actor="dana").close()
    migrated = reflect(f"sqlite:///{path}")
    declared = {name: describe(table) for name, table in schema.metadata.tables.items()}
    assert sorted(migrated) == sorted(declared)
    for name in declared:
        assert migrated[name] == declared[name], name


def test_an_older_database_is_migrated_forward(tmp_path):
    from alembic import command

    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), store_engine.REVISIONS[0])
    engine.dispose()
    open_context(str(path), actor="dana").close()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == store_engine.HEAD
    engine.dispose()
    assert sorted(reflect(url)) == sorted(schema.metadata.tables)


def test_a_new_database_is_in_wal_mode(tmp_path):
    path = tmp_path / "wal.db"
    open_context(str(path), actor="dana").close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_a_read_has_a_page_cache_of_32_mib_and_a_write_sqlites_default(tmp_path):
    """A report over a million deals re-reads the same pages; an import must stay small."""
    ctx = open_context(str(tmp_path / "cache.db"), actor="dana")
    try:
        with ctx.reading() as conn:
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -store_engine.READ_PAGE_CACHE_KIB
        with ctx.store.write() as conn:
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -store_engine.WRITE_PAGE_CACHE_KIB
        with ctx.reading() as conn:
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -32768
    finally:
        ctx.close()


def test_revisions_match_the_alembic_scripts():
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [store_engine.HEAD]
    oldest_first = [script.revision for script in scripts.walk_revisions()][::-1]
    assert tuple(oldest_first) == store_engine.REVISIONS


@pytest.mark.slow
def test_opening_an_up_to_date_database_does_not_import_alembic(tmp_path):
    path = tmp_path / "ready.db"
    open_context(str(path), actor="dana").close()
    code = (
        "import sys\n"
        "from opp.core.context import open_context\n"
        f"ctx = open_context({str(path)!r}, actor='dana')\n"
        "from opp.core.pipeline import users\n"
        "users.list_users(ctx)\n"
        "ctx.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("write", [False, True])
def test_foreign_keys_are_enforced(tmp_path, write):
    from sqlalchemy.exc import IntegrityError

    ctx = open_context(str(tmp_path / "fk.db"), actor="dana")
    try:
        with pytest.raises(IntegrityError):
            transaction = ctx.store.write() if write else ctx.store.read()
            with transaction as conn:
                conn.execute(
                    text(
                        "INSERT INTO history (opportunity_id, at, actor, action) "
                        "VALUES (999, '2026-01-01 00:00:00', 'dana', 'note')"
                    )
                )
    finally:
        ctx.close()


def test_resolve_url_makes_paths_absolute_sqlite_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store_engine.resolve_url("rel.db").database == str(tmp_path / "rel.db")
    assert store_engine.resolve_url("postgres://u:p@h/db").render_as_string(hide_password=False) == (
        "postgresql+psycopg://u:p@h/db"
    )


def test_mask_password_hides_the_password():
    assert store_engine.mask_password("postgresql+psycopg://ann:s3cret@db.example/opp") == (
        "postgresql+psycopg://ann:***@db.example/opp"
    )


def test_postgresql_sessions_run_without_jit(db):
    """The planner would JIT-compile the forecast's currency CASE, which takes seconds at a million
    deals for a query that runs in a fraction of one."""
    if "://" not in db:
        pytest.skip("a PostgreSQL setting")
    store = store_engine.open_store(db)
    try:
        with store.read() as conn:
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"
    finally:
        store.engine.dispose()


def test_sqlite_statistics_are_kept_after_a_command_that_writes(tmp_path):
    """Without statistics SQLite's planner guesses from the indexes alone; opp lets PRAGMA optimize
    refresh them when a connection that changed data closes."""
    from tests.conftest import Cli

    path = tmp_path / "stats.db"
    cli = Cli(str(path))
    cli("user", "add", "dana")
    cli("customer", "add", "--org", "Initech")
    for n in range(3):
        cli("create", f"Deal {n}", "--org", "Initech", "--value", "100")

    def analyzed() -> set[str]:
        engine = create_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            if not conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).scalar():
                return set()
            tables = set(conn.execute(text("SELECT tbl FROM sqlite_stat1")).scalars())
        engine.dispose()
        return tables

    cli("stage", "qualification", "2")
    assert "opportunities" in analyzed()


def test_keeping_statistics_never_waits_for_the_write_lock(tmp_path):
    """A command that has committed does not wait at its exit for another writer to finish."""
    import sqlite3
    import threading

    path = tmp_path / "busy.db"
    open_context(str(path), actor="dana").close()
    store = store_engine.open_store(str(path), lock_timeout=600)
    with store.write() as conn:
        conn.execute(text("SELECT count(*) FROM opportunities WHERE status = 'open'"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        closing = threading.Thread(target=store.close)
        closing.start()
        closing.join(timeout=60)
        assert not closing.is_alive(), "close() waited for the lock"
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_the_schema_does_not_load_sqlalchemys_postgresql_dialect():
    """Declaring a ``postgresql_*`` index option loads the whole dialect (about 40 ms at every start)."""
    code = "import sys, opp.store.schema; print('sqlalchemy.dialects.postgresql' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


def test_the_postgresql_only_index_options_are_in_the_database(db):
    """What schema.POSTGRESQL_ONLY says the migrations give PostgreSQL's indexes, they do."""
    if "://" not in db:
        pytest.skip("PostgreSQL's indexes")
    open_context(db, actor="dana").close()
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            found = {
                row.indexname: row.indexdef
                for row in conn.execute(text("SELECT indexname, indexdef FROM pg_indexes"))
                if row.indexname in schema.POSTGRESQL_ONLY
            }
    finally:
        engine.dispose()
    assert set(found) == set(schema.POSTGRESQL_ONLY)
    assert "WHERE ((status)::text = 'open'::text)" in found["ix_opportunities_open_stage_changed_at"]
    assert "INCLUDE (id)" in found["ix_history_at_field_opportunity_id"]
    assert "INCLUDE (id)" in found["ix_history_field_at_action_opportunity_id"]
