"""docs/cli.md is every command's --help, and stays so: a stale reference or an undocumented command fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from opp.cli import reference
from opp.cli.app import app

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
CONTEXTS = list(reference.contexts(typer.main.get_command(app)))


def sections() -> dict[str, str]:
    """docs/cli.md's text under each ``## opp ...`` heading."""
    parts = REFERENCE.read_text(encoding="utf-8").split("\n## ")[1:]
    return {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in parts}


def test_the_cli_reference_is_current():
    assert REFERENCE.read_text(encoding="utf-8") == reference.reference(), (
        f"docs/cli.md is out of date: run `{reference.REGENERATE}` and commit it"
    )


def test_the_reference_does_not_depend_on_the_terminal_or_the_environment(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("OPP_FORMAT", "json")
    monkeypatch.setenv("OPP_USER", "somebody-else")
    assert reference.reference() == REFERENCE.read_text(encoding="utf-8")


def test_the_reference_covers_the_whole_tree():
    paths = [ctx.command_path for ctx in CONTEXTS]
    assert len(paths) == len(set(paths))
    assert {"opp", "opp list", "opp report", "opp bill invoice", "opp config set"} <= set(paths)
    assert list(sections()) == paths


@pytest.mark.parametrize("ctx", CONTEXTS, ids=[ctx.command_path for ctx in CONTEXTS])
def test_every_command_has_help_and_its_help_is_in_the_reference(ctx):
    summary = (ctx.command.help or "").strip().split("\n", 1)[0]
    assert summary, f"{ctx.command_path} has no help text"
    section = sections().get(ctx.command_path)
    assert section is not None, f"{ctx.command_path} is not in docs/cli.md: run `{reference.REGENERATE}`"
    assert f"Usage: {ctx.command_path} " in section
    assert " ".join(summary.split()[:6]) in " ".join(section.split())
