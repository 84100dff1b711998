"""Shared fixtures: a fresh SQLite file per test, the CLI in-process, the core API, and a snapshot of
every table so that a failed command can be shown to have changed nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opp.cli.app import app
from opp.core.clock import Clock
from opp.core.context import Context, open_context

NOW = "2026-03-10T08:30:00Z"
OPP_BIN = shutil.which("opp", path=str(Path(sys.executable).parent)) or "opp"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "opp.db"


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Cli:
    """Runs opp in-process against one database, as user ``dana`` at a fixed instant by default."""

    def __init__(self, db: Path) -> None:
        self.db = db
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
        result = self.runner.invoke(app, [str(a) for a in args], env={**self.env, **env}, input=input)
        outcome = Outcome(result.exit_code, result.stdout, result.stderr)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
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
def cli(db_path: Path) -> Cli:
    return Cli(db_path)


def seed(path: Path) -> Context:
    """A new database at ``path`` with user dana (Dana Scully) and the organization Initech."""
    from opp.core import customers, users

    ctx = open_context(str(path), actor="dana", clock=Clock.from_env_value(NOW))
    users.add_user(ctx, "dana", name="Dana Scully")
    customers.add_customer(ctx, "organization", "Initech")
    return ctx


@pytest.fixture(scope="session")
def seeded() -> Callable[[Path], Context]:
    """The seeding function, for modules that build richer template databases of their own."""
    return seed


@pytest.fixture(scope="session")
def opp_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: a new database costs a migration, so tests get a copy of this one."""
    path = tmp_path_factory.mktemp("template") / "opp.db"
    seed(path).close()
    return path


@pytest.fixture
def opp(cli: Cli, db_path: Path, opp_template: Path) -> Cli:
    """The CLI with user dana and the organization Initech already there."""
    shutil.copyfile(opp_template, db_path)
    return cli


@pytest.fixture
def ctx(db_path: Path) -> Iterator[Context]:
    context = open_context(str(db_path), actor="dana", clock=Clock.from_env_value(NOW))
    yield context
    context.close()


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for asserting that a failed command changed nothing."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        tables = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}
    finally:
        conn.close()


@pytest.fixture
def unchanged(db_path: Path) -> Callable[[], Any]:
    """Call once to take a snapshot; the returned function asserts the database still matches it."""

    def take() -> Callable[[], None]:
        before = snapshot(db_path)

        def check() -> None:
            assert snapshot(db_path) == before

        return check

    return take


@pytest.fixture
def run_opp(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The installed ``opp`` as a real process, with a clean OPP_* environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=str(tmp_path / "proc.db"), OPP_USER="dana", OPP_NOW=NOW, HOME=str(tmp_path))

    def run(*args: Any, input: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPP_BIN, *map(str, args)], capture_output=True, text=True, env={**env, **extra}, input=input
        )

    return run
