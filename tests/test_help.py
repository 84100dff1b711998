"""Every command documents itself: help text on each command, group and parameter; --help works."""

from __future__ import annotations

import pytest

from opp.cli.app import app
from opp.cli.compat import click_command


def walk(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = list(walk(click_command(app)))
PATHS = [path for path, _ in COMMANDS]


def test_the_tree_has_the_contract_commands():
    names = {" ".join(path) for path in PATHS}
    expected = {
        "create", "show", "list", "edit", "stage", "assign", "unassign", "claim", "note", "history",
        "customer add", "customer list", "customer show", "user add", "user list",
        "stages list", "stages add", "stages edit", "stages remove",
        "config list", "config get", "config set",
    }  # fmt: skip
    assert expected <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "opp" for p in PATHS])
def test_every_command_has_help(path, command):
    assert (command.help or "").strip(), f"opp {' '.join(path)} has no help text"
    undocumented = [
        param.name
        for param in command.params
        if not (getattr(param, "help", None) or "").strip() and param.name not in ("help",)
    ]
    assert not undocumented, f"opp {' '.join(path)}: parameters without help: {undocumented}"


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "opp" for p in PATHS])
def test_help_option_exits_0(cli, path):
    out = cli(*path, "--help")
    assert out.stdout.startswith("Usage: opp")
    assert out.stderr == ""
    assert "-h, --help" in out.stdout
    assert cli(*path, "-h").stdout == out.stdout


def test_help_does_not_touch_the_database(cli, db_path):
    cli("user", "add", "--help")
    cli("--help")
    assert not db_path.exists()


def test_version(cli):
    from opp import __version__

    assert cli("--version").stdout == f"opp {__version__}\n"


@pytest.mark.parametrize("path", [(), ("customer",)])
def test_a_group_without_a_command_prints_its_help(cli, path):
    out = cli(*path, code=2)
    text = out.stdout + out.stderr
    assert "Usage: opp" in text
    assert "\nCommands:\n" in text
    assert "opp: error: Usage:" not in text
