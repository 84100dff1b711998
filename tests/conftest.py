"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL when OPP_TEST_DATABASE_URL is set),
the CLI in-process, the core API, and a snapshot of every table so that a failed command can be shown
to have changed nothing."""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opp.cli.app import app
from opp.cli.compat import click_command
from opp.core.clock import Clock
from opp.core.context import Context, open_context

NOW = "2026-03-10T08:30:00Z"
OPP_BIN = shutil.which("opp", path=str(Path(sys.executable).parent)) or "opp"
# Set to a PostgreSQL URL (a role that may create databases) to run the whole suite on PostgreSQL.
POSTGRES_URL = os.environ.get("OPP_TEST_DATABASE_URL", "")
BACKEND = "postgresql" if POSTGRES_URL else "sqlite"


class Databases:
    """The test databases of the backend under test: SQLite files, or PostgreSQL databases made from
    templates (``CREATE DATABASE … TEMPLATE``), so that every test starts from a known state."""

    def __init__(self, root: Path, backend: str = BACKEND) -> None:
        self.root = root
        self.backend = backend
        self.counter = itertools.count(1)
        self.prefix = f"opp_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{secrets.token_hex(4)}"
        self._admin: Any = None

    def _admin_engine(self) -> Any:
        if self._admin is None:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            self._admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        return self._admin

    def _admin_sql(self, statement: str) -> None:
        from sqlalchemy import text

        with self._admin_engine().connect() as conn:
            conn.execute(text(statement))

    def _retrying(self, statement: str, attempts: int = 50) -> None:
        """Run a statement that fails while another session (autovacuum) is in the database."""
        for attempt in range(attempts):
            try:
                self._admin_sql(statement)
                return
            except Exception:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.1)

    def _url_of(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        return url.set(database=name).render_as_string(hide_password=False)

    def new(self, label: str = "db") -> str:
        """An empty database: a path not yet created (SQLite) or a new database's URL (PostgreSQL)."""
        number = next(self.counter)
        if self.backend == "sqlite":
            folder = self.root / f"{label}{number}"
            folder.mkdir()
            return str(folder / "opp.db")
        name = f"{self.prefix}_{number}"
        self._admin_sql(f'CREATE DATABASE "{name}"')
        return self._url_of(name)

    def template(self, build: Callable[[str], None]) -> str:
        """A database built once by ``build(db)``, to be restored into tests' databases."""
        db = self.new("template")
        build(db)
        return db

    def restore(self, template: str, target: str) -> None:
        """Make ``target`` a copy of ``template``."""
        if self.backend == "sqlite":
            for suffix in ("-wal", "-shm"):
                Path(target + suffix).unlink(missing_ok=True)
            shutil.copyfile(template, target)
            return
        self.drop(target)
        source, copy = template.rsplit("/", 1)[1], target.rsplit("/", 1)[1]
        self._retrying(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')

    def drop(self, db: str) -> None:
        if self.backend == "postgresql":
            name = db.rsplit("/", 1)[1]
            try:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:
                # FORCE may not end a server process the role does not own (an autovacuum worker):
                # wait for it to leave instead.
                self._retrying(f'DROP DATABASE IF EXISTS "{name}"')

    def snapshot(self, db: str) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, for asserting that a failed command changed nothing (rows in a
        canonical order; read without reflecting the tables, which cost more than the command)."""
        from sqlalchemy import create_engine, inspect, text
        from sqlalchemy.pool import NullPool

        url = db if "://" in db else f"sqlite:///{db}"
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                names = sorted(inspect(conn).get_table_names())
                rows = {name: conn.execute(text(f'SELECT * FROM "{name}"')) for name in names}
                return {name: sorted(map(tuple, result), key=repr) for name, result in rows.items()}
        finally:
            engine.dispose()

    def close(self) -> None:
        if self._admin is not None:
            from sqlalchemy import text

            with self._admin.connect() as conn:
                query = text("SELECT datname FROM pg_database WHERE datname LIKE :prefix")
                names = conn.execute(query, {"prefix": self.prefix + "%"}).scalars()
                leftovers = list(names)
            for name in leftovers:
                self.drop(self._url_of(name))
            self._admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    found = Databases(tmp_path_factory.mktemp("databases"))
    yield found
    found.close()


@pytest.fixture
def db(databases: Databases) -> Iterator[str]:
    """This test's database: an SQLite path, or a PostgreSQL URL."""
    found = databases.new()
    yield found
    databases.drop(found)


@pytest.fixture
def db_path(db: str) -> Path:
    """This test's database as an SQLite file, for tests of SQLite itself (skipped on PostgreSQL)."""
    if BACKEND != "sqlite":
        pytest.skip("a test of the SQLite file itself")
    return Path(db)


@pytest.fixture
def restore(databases: Databases, db: str) -> Callable[[str], None]:
    """Call with a template from ``databases.template`` to make this test's database a copy of it."""
    return lambda template: databases.restore(template, db)


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


COMMAND = click_command(app)


def _text(written: bytes) -> str:
    return written.decode("utf-8", "replace").replace("\r\n", "\n")


class Cli:
    """Runs opp in-process against one database, as user ``dana`` at a fixed instant by default."""

    def __init__(self, db: str | Path) -> None:
        self.db = str(db)
        self.env: dict[str, str | None] = {
            "OPP_DB": str(db),
            "OPP_USER": "dana",
            "OPP_NOW": NOW,
            "OPP_FORMAT": None,
            "OPP_DEBUG": None,
            "OPP_LOCK_TIMEOUT": None,
        }
        self.runner = CliRunner()

    def __call__(self, *args: Any, code: int = 0, input: str | None = None, **env: str | None) -> Outcome:
        # As CliRunner.invoke, but on the command tree built once: invoke builds the whole tree again on
        # every call, which took three quarters of the time of the in-process tests.
        with self.runner.isolation(input=input, env={**self.env, **env}) as (stdout, stderr, _):
            try:
                COMMAND.main(args=[str(a) for a in args], prog_name="opp")
                exit_code = 0
            except SystemExit as exc:
                exit_code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            outcome = Outcome(exit_code, _text(stdout.getvalue()), _text(stderr.getvalue()))
        assert outcome.exit_code == code, (args, outcome)
        return outcome

    def json(self, *args: Any, **kwargs: Any) -> Any:
        return self(*args, "--format", "json", **kwargs).json()

    def fails(self, code: int, *args: Any, **kwargs: Any) -> str:
        """Run a command that must fail with ``code``: one error line, nothing on stdout; returns it."""
        outcome = self(*args, code=code, **kwargs)
        lines = outcome.stderr.splitlines()
        assert lines and lines[0].startswith("opp: error: "), outcome
        assert "Traceback" not in outcome.stderr
        assert outcome.stdout == "", outcome
        return lines[0]


@pytest.fixture
def cli(db: str) -> Cli:
    return Cli(db)


def seed(db: str | Path) -> Context:
    """A new database at ``db`` with user dana (Dana Scully) and the organization Initech (added by
    ``setup``, so that it is not dana's to undo: tests start with nothing to undo)."""
    from opp.core.pipeline import customers, users

    setup = open_context(str(db), actor="setup", clock=Clock.from_env_value(NOW))
    customers.add_customer(setup, "organization", "Initech")
    setup.close()
    ctx = open_context(str(db), actor="dana", clock=Clock.from_env_value(NOW))
    users.add_user(ctx, "dana", name="Dana Scully")
    return ctx


@pytest.fixture(scope="session")
def seeded() -> Callable[[str | Path], Context]:
    """The seeding function, for modules that build richer template databases of their own."""
    return seed


@pytest.fixture(scope="session")
def opp_template(databases: Databases) -> str:
    """Built once: a new database costs a migration, so tests get a copy of this one."""
    return databases.template(lambda db: seed(db).close())


@pytest.fixture
def opp(cli: Cli, restore: Callable[[str], None], opp_template: str) -> Cli:
    """The CLI with user dana and the organization Initech already there."""
    restore(opp_template)
    return cli


@pytest.fixture
def sam_and_a_deal(opp: Cli) -> int:
    """User sam, and an open deal at Initech (1,000 USD) to hang tasks and tickets on: its id."""
    opp("user", "add", "sam")
    deal_id: int = opp.json("create", "Initech - TPS audit", "--org", "Initech", "--value", "1000")["id"]
    return deal_id


@pytest.fixture
def ctx(db: str) -> Iterator[Context]:
    context = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
    yield context
    context.close()


@pytest.fixture
def unchanged(databases: Databases, db: str) -> Callable[[], Any]:
    """Call once to take a snapshot; the returned function asserts the database still matches it."""

    def take() -> Callable[[], None]:
        before = databases.snapshot(db)

        def check() -> None:
            assert databases.snapshot(db) == before

        return check

    return take


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that runs the installed opp as a process (the ``run_opp`` fixture) is slow."""
    for item in items:
        if "run_opp" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def run_opp(tmp_path: Path, db: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The installed ``opp`` as a real process on this test's database, with a clean OPP_* environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=db, OPP_USER="dana", OPP_NOW=NOW, HOME=str(tmp_path))

    def run(*args: Any, input: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPP_BIN, *map(str, args)], capture_output=True, text=True, env={**env, **extra}, input=input
        )

    return run
