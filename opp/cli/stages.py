"""Stage commands: list, add, edit, remove (the two closed stages are fixed)."""

from __future__ import annotations

from typing import Annotated

import typer

from opp.cli import state
from opp.cli.options import FormatOpt, ProbabilityOpt, RecordFormatOpt
from opp.cli.render import Column, Format, emit

app = typer.Typer(help="The pipeline's stages.", no_args_is_help=True)

STAGE_COLUMNS = [
    Column("key", "key"),
    Column("name", "name"),
    Column("probability", "probability"),
    Column("position", "position"),
    Column("kind", "kind"),
    Column("category", "category"),
]
KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="Stage key, e.g. discovery.")]
AfterOpt = Annotated[
    str | None, typer.Option("--after", metavar="STAGE", help="Place after this open stage.")
]
BeforeOpt = Annotated[
    str | None, typer.Option("--before", metavar="STAGE", help="Place before this open stage.")
]
NameOpt = Annotated[str | None, typer.Option("--name", metavar="T", help="Display name.")]
CategoryOpt = Annotated[
    str | None,
    typer.Option(
        "--category",
        metavar="C",
        help="Forecast category of the stage's deals: pipeline, best-case, commit or omitted "
        "(a new stage: pipeline).",
    ),
]


@app.command("list")
def list_(fmt: FormatOpt = Format.table) -> None:
    """List the stages in pipeline order."""
    from opp.core.pipeline import stages

    emit(stages.list_stages(state.context()), fmt, columns=STAGE_COLUMNS)


@app.command()
def add(
    key: KeyArg,
    probability: Annotated[
        str, typer.Option("--probability", "-p", metavar="P", help="Default probability.")
    ],
    after: AfterOpt = None,
    before: BeforeOpt = None,
    name: NameOpt = None,
    category: CategoryOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add an open stage after (or before) another open stage."""
    from opp.core.pipeline import stages

    emit(
        stages.add_stage(
            state.context(),
            key,
            probability=probability,
            name=name,
            after=after,
            before=before,
            category=category,
        ),
        fmt,
    )


@app.command()
def edit(
    key: KeyArg,
    name: NameOpt = None,
    probability: ProbabilityOpt = None,
    after: AfterOpt = None,
    before: BeforeOpt = None,
    category: CategoryOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Rename, re-weight, re-categorize or move an open stage (deals keep the probability they carry)."""
    from opp.core.pipeline import stages

    emit(
        stages.edit_stage(
            state.context(),
            key,
            name=name,
            probability=probability,
            after=after,
            before=before,
            category=category,
        ),
        fmt,
    )


@app.command()
def remove(key: KeyArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Remove an open stage that holds no deals."""
    from opp.core.pipeline import stages

    emit(stages.remove_stage(state.context(), key), fmt)
