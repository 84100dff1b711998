"""Shell completion: the dynamic values (stage keys, user handles, customer names, service codes) and the
scripts in ``completions/``, generated from the app by ``make completions``.

The scripts are Typer's (Click's ``shell_complete`` machinery): on TAB the shell runs ``opp`` with
``_OPP_COMPLETE`` set, and opp answers from the command tree, calling the functions below for values
that live in the database. Those open the database lazily, read only (never creating or migrating one),
and answer nothing rather than print an error: a TAB press must never break the command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

PROG = "opp"
COMPLETE_VAR = "_OPP_COMPLETE"
SCRIPTS = {"bash": "opp.bash", "zsh": "_opp", "fish": "opp.fish"}
MAX_VALUES = 200

Choices = list[tuple[str, str]]


def _database(ctx: typer.Context | None) -> str | None:
    """The --db the command line gives so far, else OPP_DB, else the default; None if it does not exist."""
    from opp.cli import state

    db = None
    if ctx is not None:
        db = ctx.find_root().params.get("db")
    db = db or os.environ.get("OPP_DB") or state.default_db_path()
    if "://" not in db and not Path(db).expanduser().is_file():
        return None
    return db


def _values(ctx: typer.Context | None, read: Callable[[Any], list[tuple[str, str | None]]]) -> Choices:
    """Run ``read`` on a read-only connection; any failure means no suggestions, silently."""
    try:
        db = _database(ctx)
        if db is None:
            return []
        from opp.store.engine import Store, resolve_url

        store = Store(resolve_url(db), lock_timeout=1.0)
        try:
            with store.read() as conn:
                return [(value, help_text or "") for value, help_text in read(conn)]
        finally:
            store.close()
    except Exception:  # a completion must never print a traceback into the shell
        return []


def _starting(choices: Choices, incomplete: str) -> Choices:
    lowered = incomplete.lower()
    return [choice for choice in choices if choice[0].lower().startswith(lowered)][:MAX_VALUES]


def complete_stage(ctx: typer.Context, incomplete: str) -> Choices:
    """Stage keys in pipeline order, with their display names."""
    from sqlalchemy import select

    from opp.store import schema

    s = schema.stages

    def read(conn: Any) -> list[tuple[str, str | None]]:
        return [(row.key, row.name) for row in conn.execute(select(s.c.key, s.c.name).order_by(s.c.position))]

    return _starting(_values(ctx, read), incomplete)


def complete_user(ctx: typer.Context, incomplete: str) -> Choices:
    """User handles, with their names."""
    from sqlalchemy import select

    from opp.store import schema

    u = schema.users

    def read(conn: Any) -> list[tuple[str, str | None]]:
        return [
            (row.handle, row.name) for row in conn.execute(select(u.c.handle, u.c.name).order_by(u.c.handle))
        ]

    return _starting(_values(ctx, read), incomplete)


def complete_customer(ctx: typer.Context, incomplete: str) -> Choices:
    """Customer names that start with what is typed, with their kind."""
    from sqlalchemy import func, select

    from opp.store import schema

    c = schema.customers

    def read(conn: Any) -> list[tuple[str, str | None]]:
        query = (
            select(c.c.name, c.c.kind)
            .where(func.lower(c.c.name).startswith(incomplete.lower(), autoescape=True))
            .order_by(c.c.name)
            .limit(MAX_VALUES)
        )
        return [(row.name, row.kind) for row in conn.execute(query)]

    return _starting(_values(ctx, read), incomplete)


def complete_service(ctx: typer.Context, incomplete: str) -> Choices:
    """Service codes still offered, with their names."""
    from sqlalchemy import select

    from opp.store import schema

    sv = schema.services

    def read(conn: Any) -> list[tuple[str, str | None]]:
        query = select(sv.c.code, sv.c.name).where(sv.c.retired_at.is_(None)).order_by(sv.c.code)
        return [(row.code, row.name) for row in conn.execute(query)]

    return _starting(_values(ctx, read), incomplete)


# -- the scripts ------------------------------------------------------------------------------------------


def _command_lines(command: Any, prefix: str = "") -> list[str]:
    """``opp import``, ``opp customer add`` ...: every command path, for the scripts' header."""
    lines = []
    for name in sorted(getattr(command, "commands", {})):
        sub = command.commands[name]
        if getattr(sub, "hidden", False):
            continue
        path = f"{prefix} {name}".strip()
        if getattr(sub, "commands", None):
            lines.extend(_command_lines(sub, path))
        else:
            options = sorted(
                opt for param in sub.params for opt in getattr(param, "opts", []) if opt.startswith("--")
            )
            lines.append(f"{path} {' '.join(options)}".rstrip())
    return lines


def script(shell: str) -> str:
    """The completion script for ``shell``: Typer's, under a header naming what it completes."""
    from typer._completion_shared import get_completion_script

    from opp.cli.app import app

    command = typer.main.get_command(app)
    body = get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
    header = [
        f"# {shell} completion for opp. Generated by `make completions` from opp's commands; do not edit.",
        "# Values such as stage keys, user handles, customer names and service codes come from",
        "# `opp` itself on each TAB, read from the database that --db or OPP_DB names.",
        "#",
        *(f"#   opp {line}" for line in _command_lines(command)),
    ]
    if body.startswith("#compdef"):
        first, rest = body.split("\n", 1)
        return "\n".join([first, *header, rest.lstrip("\n")]) + "\n"
    return "\n".join([*header, "", body]) + "\n"


def write_scripts(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in SCRIPTS.items():
        path = directory / name
        path.write_text(script(shell), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """``python -m opp.cli.complete [DIR]`` (``make completions``): regenerate the scripts."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else "completions")
    for path in write_scripts(directory):
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main()
