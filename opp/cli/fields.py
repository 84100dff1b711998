"""Custom field commands: add, list, edit, remove (values are set with --set on create, edit and
customer add)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from opp.cli import state
from opp.cli.complete import complete_field
from opp.cli.options import FormatOpt, RecordFormatOpt
from opp.cli.render import Column, Format, emit

if TYPE_CHECKING:
    from opp.core.fields import FieldDef

app = typer.Typer(
    help="Custom fields: a team's own typed fields on deals and customers (region, renewal date ...).",
    no_args_is_help=True,
)

FIELD_COLUMNS = [
    Column("name", "name"),
    Column("type", "type"),
    Column("on", "on"),
    Column("choices", "choices", 40),
    Column("values", "values"),
]
NameArg = Annotated[
    str, typer.Argument(metavar="NAME", help="The field's name, e.g. region.", autocompletion=complete_field)
]
ChoicesOpt = Annotated[
    str | None,
    typer.Option("--choices", metavar="A,B,...", help="A choice field's choices, comma-separated."),
]


def _show(found: FieldDef, fmt: Format) -> None:
    """One field; as a table its choices read as one line (a list would be left out of it)."""
    if fmt is Format.table:
        record = found.as_dict()
        record["choices"] = ", ".join(found.choices or ())
        emit(record, fmt)
    else:
        emit(found, fmt)


@app.command()
def add(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="Lower case letters, digits and _, up to 40 characters: region, renewal_date.",
        ),
    ],
    field_type: Annotated[
        str,
        typer.Option(
            "--type",
            metavar="TYPE",
            help="text, number, date or choice.",
            autocompletion=lambda incomplete: [
                t for t in ("text", "number", "date", "choice") if t.startswith(incomplete)
            ],
        ),
    ],
    choices: ChoicesOpt = None,
    on: Annotated[
        str,
        typer.Option(
            "--on",
            metavar="RECORD",
            help="deal (default) or customer.",
            autocompletion=lambda incomplete: [r for r in ("deal", "customer") if r.startswith(incomplete)],
        ),
    ] = "deal",
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Define a custom field on deals (default) or customers."""
    from opp.core import fields

    _show(fields.add_field(state.context(), name, type=field_type, choices=choices, on=on), fmt)


@app.command("list")
def list_(fmt: FormatOpt = Format.table) -> None:
    """List the custom fields, deals' first, with how many records hold a value."""
    from opp.core import fields

    emit(
        fields.list_fields(state.context()),
        fmt,
        columns=FIELD_COLUMNS,
        of=fields.FieldDef,
        empty="no custom fields",
    )


@app.command()
def edit(
    name: NameArg,
    choices: Annotated[
        str,
        typer.Option(
            "--choices",
            metavar="A,B,...",
            help="The choices, comma-separated: new ones may be added; one a record holds must stay.",
        ),
    ],
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Change a choice field's choices (refused, exit 4, when one taken away is in use)."""
    from opp.core import fields

    _show(fields.edit_field(state.context(), name, choices=choices), fmt)


@app.command()
def remove(
    name: NameArg,
    force: Annotated[bool, typer.Option("--force", help="Remove it with the values records hold.")] = False,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Remove a custom field no record holds a value of (with --force, and its values)."""
    from opp.core import fields

    _show(fields.remove_field(state.context(), name, force=force), fmt)
