"""Shell completion: the dynamic values (stage keys, user handles, customer names, service codes) and the
scripts in ``completions/``, generated from the app by ``make completions``.

The scripts are Typer's (Click's ``shell_complete`` machinery): on TAB the shell runs ``opp`` with
``_OPP_COMPLETE`` set, and opp answers from the command tree, calling the functions below for values
that live in the database. Those open the database lazily, read only (never creating or migrating one),
and answer nothing rather than print an error: a TAB press must never break the command line.
"""

from __future__ import annotations

import os
import re
import sys
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


def _values(ctx: typer.Context | None, kind: str, incomplete: str) -> Choices:
    """The names of ``kind`` starting with what is typed; any failure means no suggestions, silently."""
    try:
        db = _database(ctx)
        if db is None:
            return []
        from opp.core.lookups import names

        return names(db, kind, incomplete, limit=MAX_VALUES)
    except Exception:  # a completion must never print a traceback into the shell
        return []


def complete_stage(ctx: typer.Context, incomplete: str) -> Choices:
    """Stage keys in pipeline order, with their display names."""
    return _values(ctx, "stage", incomplete)


def complete_user(ctx: typer.Context, incomplete: str) -> Choices:
    """User handles, with their names."""
    return _values(ctx, "user", incomplete)


def complete_customer(ctx: typer.Context, incomplete: str) -> Choices:
    """Customer names that start with what is typed, with their kind."""
    return _values(ctx, "customer", incomplete)


def complete_organization(ctx: typer.Context, incomplete: str) -> Choices:
    """Names of customers that are organizations (``--org``)."""
    return _values(ctx, "organization", incomplete)


def complete_individual(ctx: typer.Context, incomplete: str) -> Choices:
    """Names of customers that are individuals (``--person``)."""
    return _values(ctx, "individual", incomplete)


def _field_words(
    ctx: typer.Context | None, kind: str, incomplete: str, operators: tuple[str, ...]
) -> Choices:
    """``NAME=`` for the field names typed so far, then ``NAME=CHOICE`` (and the other operators) for a
    choice field's choices; nothing, silently, on any failure."""
    match = re.match(r"([a-z0-9_]*)(!=|>=|<=|=|>|<)?(.*)\Z", incomplete, re.DOTALL)
    if match is None:
        return []
    name, operator, value = match.groups()
    if operator is None:
        return [(f"{found}=", kind_) for found, kind_ in _values(ctx, kind, name)]
    try:
        db = _database(ctx)
        if db is None or operator not in operators:
            return []
        from opp.core.lookups import field_choices

        return [
            (f"{name}{operator}{choice}", "")
            for choice in field_choices(db, name)
            if choice.lower().startswith(value.lower())
        ]
    except Exception:
        return []


def complete_set_deal_field(ctx: typer.Context, incomplete: str) -> Choices:
    """``--set`` on a deal: its custom fields' names, then a choice field's choices."""
    return _field_words(ctx, "deal_field", incomplete, ("=",))


def complete_set_customer_field(ctx: typer.Context, incomplete: str) -> Choices:
    """``--set`` on a customer: its custom fields' names, then a choice field's choices."""
    return _field_words(ctx, "customer_field", incomplete, ("=",))


def complete_where(ctx: typer.Context, incomplete: str) -> Choices:
    """``--where``: custom field names, then a choice field's choices after ``=`` or ``!=``."""
    return _field_words(ctx, "field", incomplete, ("=", "!="))


def complete_field(ctx: typer.Context, incomplete: str) -> Choices:
    """Custom field names, with their types."""
    return _values(ctx, "field", incomplete)


def complete_group(builtin: tuple[str, ...]) -> Any:
    """``--by``: the built-in groups, then the custom fields' names."""

    def complete(ctx: typer.Context, incomplete: str) -> Choices:
        offered: Choices = [(group, "") for group in builtin if group.startswith(incomplete)]
        return offered + _values(ctx, "field", incomplete)

    return complete


def complete_service(ctx: typer.Context, incomplete: str) -> Choices:
    """Service codes still offered, with their names."""
    return _values(ctx, "service", incomplete)


def complete_note_kind(ctx: typer.Context, incomplete: str) -> Choices:
    """The kinds of notes (opp.core.work.notes.KINDS, repeated here so that TAB loads no database code)."""
    kinds = [
        ("internal", "the team's own (default)"),
        ("customer", "what the customer said or was told"),
        ("meeting", "minutes of a meeting"),
    ]
    return [(kind, about) for kind, about in kinds if kind.startswith(incomplete.lower())]


def complete_task(ctx: typer.Context, incomplete: str) -> Choices:
    """Ids of open tasks, with their titles."""
    return _values(ctx, "task", incomplete)


def complete_ticket(ctx: typer.Context, incomplete: str) -> Choices:
    """Ids of tickets not closed, with their titles."""
    return _values(ctx, "ticket", incomplete)


def offer(choices: tuple[str, ...]) -> Any:
    """Completion of a fixed set of words (statuses, kinds, priorities)."""

    def offered(incomplete: str) -> list[str]:
        return [choice for choice in choices if choice.startswith(incomplete.lower())]

    return offered


def complete_category(ctx: typer.Context, incomplete: str) -> Choices:
    """The forecast categories a deal or stage can be given (and ``auto``)."""
    from opp.core.pipeline.categories import AUTO, OPEN_CATEGORIES

    wanted = incomplete.lower()
    return [(name, "") for name in (*OPEN_CATEGORIES, AUTO) if name.startswith(wanted)]


def complete_period(ctx: typer.Context, incomplete: str) -> Choices:
    """The named periods (a year, 2026Q4 or 2026-11 is typed as it is)."""
    from opp.core.dates import PERIOD_WORDS

    wanted = incomplete.lower()
    return [(word, "") for word in PERIOD_WORDS if word.startswith(wanted)]


# -- quoting ----------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w@%+=:,./-]")


def bash_word(value: str, typed: str = "") -> str:
    """``value`` as bash should insert it for the word ``typed`` so far: each shell character escaped with
    a backslash (``Müller\\ \\&\\ Söhne``), or, after an opening quote, what goes inside that quote
    (bash closes it). Zsh and fish quote what they insert themselves."""
    if typed.startswith("'"):
        return value.replace("'", "'\\''")
    if typed.startswith('"'):
        return re.sub(r'(["$`\\])', r"\\\1", value)
    if any(not char.isprintable() for char in value):
        return "$'" + "".join(_ansi_c(char) for char in value) + "'"
    return _UNSAFE.sub(lambda match: "\\" + match.group(0), value)


def _ansi_c(char: str) -> str:
    """One character inside bash's ``$'...'`` quoting."""
    if char in "'\\":
        return "\\" + char
    if char.isprintable():
        return char
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


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
    from opp.cli.app import app
    from opp.cli.compat import click_command, completion_script

    command = click_command(app)
    body = completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
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
