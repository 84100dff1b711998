"""Every command line opp suggests in its messages and hints names options that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from opp.cli.app import app

SOURCE = Path(__file__).resolve().parents[1] / "opp"
# "opp" and what follows it in a message, up to the end of the suggested command line
SUGGESTION = re.compile(r"\bopp ((?:[^\s|,;)\"'`]+ ?)+)")


def suggestions() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in SUGGESTION.finditer(line):
                if "--" in match.group(1):
                    found.append((f"{path.relative_to(SOURCE.parent)}:{number}", number, match.group(1)))
    return found


def options_of(command: Any) -> set[str]:
    return {
        name
        for param in command.params
        for name in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])
    }


def test_suggested_command_lines_name_only_options_that_exist():
    root = typer.main.get_command(app)
    checked = 0
    for where, _number, text in suggestions():
        command = root
        allowed = options_of(root) | {"--help"}
        for word in text.split():
            if word in getattr(command, "commands", {}):
                command = command.commands[word]
                allowed |= options_of(command)
            elif word.startswith("--"):
                option = word.split("=", 1)[0]
                assert option in allowed, (
                    f"{where}: {text!r} suggests {option}, which opp {command.name} lacks"
                )
                checked += 1
    assert checked > 10  # the scan found the suggestions


def test_invoicing_a_deal_not_won_says_how_to_win_it_from_any_stage(opp):
    opp("create", "Early", "--org", "Initech", "--stage", "qualification")
    opp("bill", "add", "1", "--item", "Work", "--price", "10")
    line = opp.fails(4, "bill", "invoice", "1")
    assert "win it first with opp stage won 1 (from the last open stage, else add --force)" in line
    opp("stage", "won", "1", "--force")
    opp("bill", "invoice", "1")


def test_every_reason_the_cli_words_is_one_the_core_gives():
    """CLI_WORDS holds no dead entry: each reason it words is raised somewhere in the core."""
    from opp.cli.errors import CLI_WORDS

    core = "\n".join(path.read_text(encoding="utf-8") for path in (SOURCE / "core").rglob("*.py"))
    given = set(re.findall(r"""["']([a-z]+(?:-[a-z]+)*)["']""", core))  # every word the core quotes
    assert set(CLI_WORDS) - given == set()
