"""Options shared by many commands, defined once, and the reading of ids from arguments or stdin."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from opp.cli.render import Format

FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        envvar="OPP_FORMAT",
        case_sensitive=False,
        help="Output format: table, json, jsonl, csv or ids.",
    ),
]
IdsArg = Annotated[
    list[str],
    typer.Argument(metavar="ID...", help="Opportunity ids; '-' alone reads them from stdin, one per line."),
]
IdArg = Annotated[str, typer.Argument(metavar="ID", help="Opportunity id.")]
ProbabilityOpt = Annotated[
    str | None, typer.Option("--probability", "-p", metavar="P", help="Probability 0-100, optionally with %.")
]


def read_ids(ids: list[str]) -> list[str]:
    """The ids given, or with '-' as the only id, those on stdin (blank lines ignored)."""
    if ids == ["-"]:
        return [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
    if "-" in ids:
        from opp.core.errors import Invalid

        raise Invalid("'-' reads ids from stdin and must be the only id")
    return ids
