"""Deal commands: create, show, list, edit, stage, category, assign, unassign, claim, note, notes,
history."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from opp.cli import state
from opp.cli.complete import (
    complete_category,
    complete_individual,
    complete_note_kind,
    complete_organization,
    complete_stage,
    complete_user,
)
from opp.cli.options import (
    AsOfOpt,
    CustomerOpt,
    DealFilters,
    FormatOpt,
    IdArg,
    IdsArg,
    LimitOpt,
    OffsetOpt,
    ProbabilityOpt,
    RawOpt,
    RecordFormatOpt,
    SetOpt,
    SortOpt,
    WhereOpt,
    deal_filters,
    read_ids,
)
from opp.cli.render import Column, Format, emit, message

DEAL_COLUMNS = [
    Column("id", "id"),
    Column("title", "title", 40, keep=20),
    Column("customer", "customer.name", 24, keep=10),
    Column("stage", "stage", keep=11),
    Column("value", "value"),
    Column("cur", "currency"),
    # At a narrow terminal these go first (probability, then forecast, then assignee), before a
    # title is cut below 20 characters: `opp --wide list` or a wider terminal shows them.
    Column("prob", "probability", drop=1),
    Column("forecast", "forecast", drop=2),
    Column("close", "expected_close"),
    Column("assignee", "assignee", keep=8, drop=3),
]
EVENT_COLUMNS = [
    Column("id", "id"),
    Column("deal", "opportunity_id"),
    Column("at", "at"),
    Column("actor", "actor"),
    Column("action", "action"),
    Column("field", "field"),
    # A change of a deal's value shows its amounts as every table shows money (12,500.50).
    Column("old", "old", 30, money_when=("field", frozenset({"value"}))),
    Column("new", "new", 30, money_when=("field", frozenset({"value"}))),
    Column("note", "note", 40),
]

CloseOpt = Annotated[
    str | None,
    typer.Option("--close", metavar="DATE", help="Expected close: 2026-12-31, +30d, eom, eoq ..."),
]
ValueOpt = Annotated[
    str | None, typer.Option("--value", metavar="N", help="Deal value: 50000, 50000.50, 50_000, 50k, 1.2m.")
]
CurrencyOpt = Annotated[str | None, typer.Option("--currency", metavar="C", help="ISO 4217 code, e.g. EUR.")]
DescriptionOpt = Annotated[str | None, typer.Option("--description", metavar="TEXT", help="Longer notes.")]
RefOpt = Annotated[
    str | None, typer.Option("--ref", metavar="EXTERNAL", help="Reference in another system (unique).")
]


def create(
    title: Annotated[str, typer.Argument(help="Short title, e.g. 'Acme Corp - Software License'.")],
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            metavar="REF",
            help="Organization id or exact name.",
            autocompletion=complete_organization,
        ),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option(
            "--person",
            metavar="REF",
            help="Individual id or exact name.",
            autocompletion=complete_individual,
        ),
    ] = None,
    value: ValueOpt = None,
    currency: CurrencyOpt = None,
    stage: Annotated[
        str | None,
        typer.Option(
            "--stage", metavar="S", help="Initial stage (default lead).", autocompletion=complete_stage
        ),
    ] = None,
    probability: ProbabilityOpt = None,
    close: CloseOpt = None,
    description: DescriptionOpt = None,
    ref: RefOpt = None,
    assign: Annotated[
        str | None,
        typer.Option("--assign", metavar="HANDLE", help="Assign to a user.", autocompletion=complete_user),
    ] = None,
    set_fields: SetOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Create an opportunity for an existing customer and print it."""
    from opp.core.pipeline import deals

    deal = deals.create_deal(
        state.context(),
        title,
        org=org,
        person=person,
        value=value,
        currency=currency,
        stage=stage,
        probability=probability,
        close=close,
        description=description,
        ref=ref,
        assign=assign,
        set_fields=set_fields or (),
    )
    emit(deal, fmt)


def show(deal_id: IdArg, fmt: RecordFormatOpt = Format.table) -> None:
    """Show one opportunity with its billing (billed, unbilled, whether they make the value) and history."""
    from opp.core.pipeline import deals

    detail = deals.show_deal(state.context(), deal_id)
    record = detail.as_dict()
    if fmt is Format.table:
        from opp.cli.bill import billing_text
        from opp.cli.contacts import CONTACT_COLUMNS

        record["billing"] = billing_text(detail.billing, record["value"])
        extra: list[tuple[str, Any, list[Column]]] = [
            ("contacts", detail.contacts, CONTACT_COLUMNS),
            ("history", detail.history, EVENT_COLUMNS),
        ]
        emit(record, fmt, extra_tables=extra)
        return
    emit(record, fmt, extra_tables=[("history", detail.history, EVENT_COLUMNS)])


@deal_filters()
def list_(
    filters: DealFilters,
    without_task: Annotated[
        bool, typer.Option("--without-task", help="Open deals with no open task: nobody has a next step.")
    ] = False,
    sort: SortOpt = None,
    limit: LimitOpt = None,
    offset: OffsetOpt = None,
    as_of: AsOfOpt = None,
    where: WhereOpt = None,
    raw: RawOpt = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """List opportunities (open ones unless filtered otherwise)."""
    from opp.core.pipeline import deals

    scope = filters.scope(without_task=without_task, as_of=as_of, where=where or ())
    # --format ids reads only the ids: no record is built for a deal whose id alone is printed.
    read = deals.stream_deal_ids if fmt is Format.ids else deals.stream_deals
    found = read(state.context(), scope, sort=sort, limit=limit, offset=offset)
    from opp.core.records import Opportunity

    columns = deal_columns() if fmt is Format.table else DEAL_COLUMNS
    emit(found, fmt, columns=columns, of=Opportunity, raw=raw, empty="no opportunities match")


def deal_columns() -> list[Column]:
    """A deal listing's table columns: the built-in ones, then a column per custom deal field."""
    from opp.core.fields import field_names

    return [
        *DEAL_COLUMNS,
        *(Column(name, f"fields.{name}", 20) for name in field_names(state.context(), "deal")),
    ]


def edit(
    deal_id: IdArg,
    title: Annotated[str | None, typer.Option("--title", metavar="T", help="New title.")] = None,
    value: ValueOpt = None,
    currency: CurrencyOpt = None,
    probability: ProbabilityOpt = None,
    close: CloseOpt = None,
    description: DescriptionOpt = None,
    ref: RefOpt = None,
    value_from_billables: Annotated[
        bool,
        typer.Option(
            "--value-from-billables", help="Set the value to the billable lines' subtotal (before tax)."
        ),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", metavar="T", help="Why it was lost (a lost deal only).")
    ] = None,
    if_version: Annotated[
        int | None,
        typer.Option(
            "--if-version",
            metavar="N",
            help="Only if the deal is still at version N (its version key); else refused, "
            "naming who changed it.",
        ),
    ] = None,
    set_fields: SetOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Change fields of an opportunity ('' clears an optional one); each change is recorded."""
    from opp.core.pipeline import deals

    deal = deals.edit_deal(
        state.context(),
        deal_id,
        title=title,
        value=value,
        currency=currency,
        probability=probability,
        close=close,
        description=description,
        ref=ref,
        value_from_billables=value_from_billables,
        reason=reason,
        if_version=if_version,
        set_fields=set_fields or (),
    )
    emit(deal, fmt)


def stage(
    stage_key: Annotated[
        str,
        typer.Argument(
            metavar="STAGE",
            help="Target stage key (won and lost are aliases).",
            autocompletion=complete_stage,
        ),
    ],
    ids: IdsArg,
    probability: ProbabilityOpt = None,
    reason: Annotated[str | None, typer.Option("--reason", metavar="T", help="Why it was lost.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Allow skipping stages (noted in history).")] = False,
    reopen: Annotated[bool, typer.Option("--reopen", help="Reopen closed deals into an open stage.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Move opportunities to a stage: all of them, or none if any move is refused."""
    from opp.core.pipeline import deals

    moved = deals.move_deals(
        state.context(),
        stage_key,
        read_ids(ids),
        probability=probability,
        reason=reason,
        force=force,
        reopen=reopen,
    )
    emit(moved, fmt, columns=DEAL_COLUMNS)


def category(
    category_name: Annotated[
        str,
        typer.Argument(
            metavar="CATEGORY",
            help="pipeline, best-case, commit or omitted; auto to follow the stage again.",
            autocompletion=complete_category,
        ),
    ],
    ids: IdsArg,
    fmt: FormatOpt = Format.table,
) -> None:
    """Set open deals' forecast category by hand (kept through stage changes), or auto: all or none."""
    from opp.core.pipeline import categories

    changed = categories.set_category(state.context(), category_name, read_ids(ids))
    emit(changed, fmt, columns=[*DEAL_COLUMNS[:4], Column("category", "category"), *DEAL_COLUMNS[4:]])


def assign(
    handle: Annotated[
        str, typer.Argument(metavar="HANDLE", help="The user to assign.", autocompletion=complete_user)
    ],
    ids: IdsArg,
    fmt: FormatOpt = Format.table,
) -> None:
    """Assign opportunities to a user."""
    from opp.core.pipeline import deals

    emit(deals.assign_deals(state.context(), handle, read_ids(ids)), fmt, columns=DEAL_COLUMNS)


def unassign(ids: IdsArg, fmt: FormatOpt = Format.table) -> None:
    """Remove the assignee of opportunities."""
    from opp.core.pipeline import deals

    emit(deals.unassign_deals(state.context(), read_ids(ids)), fmt, columns=DEAL_COLUMNS)


def claim(ids: IdsArg, fmt: FormatOpt = Format.table) -> None:
    """Assign opportunities to yourself (--as); deals someone else holds are refused."""
    from opp.core.pipeline import deals

    emit(deals.claim_deals(state.context(), read_ids(ids)), fmt, columns=DEAL_COLUMNS)


NOTE_COLUMNS = [
    Column("id", "id"),
    Column("deal", "opportunity_id"),
    Column("at", "at"),
    Column("actor", "actor"),
    Column("kind", "kind"),
    Column("text", "text", 60),
]
NoteKindOpt = Annotated[
    str | None,
    typer.Option(
        "--kind",
        metavar="KIND",
        help="internal (default), customer or meeting.",
        autocompletion=complete_note_kind,
    ),
]


def note(
    deal_id: IdArg,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The note; '-' reads it from stdin.")],
    kind: NoteKindOpt = None,
    fmt: RecordFormatOpt = Format.table,
) -> None:
    """Add a note to an opportunity's history: internal (default), customer or meeting (--kind)."""
    import sys

    from opp.core.work import notes

    body = sys.stdin.read() if text == "-" else text
    emit(notes.add_note(state.context(), deal_id, body, kind=kind), fmt)


def notes(
    deal_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="One opportunity (default: all).")
    ] = None,
    customer: CustomerOpt = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", metavar="KIND", help="internal, customer or meeting.", autocompletion=complete_note_kind
        ),
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="Case-insensitive substring of the text.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="At most N notes.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List notes, newest first: of one deal, or of a customer's deals (--customer: the deals it is the
    customer of or a contact on), of one kind, containing a text."""
    from opp.core.work import notes as notes_service
    from opp.core.work.notes import Note

    found = notes_service.iter_notes(
        state.context(), deal_id, customer=customer, kind=kind, search=search, limit=limit
    )
    emit(found, fmt, columns=NOTE_COLUMNS, of=Note, empty="no notes match")


def history(
    deal_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="One opportunity (default: all).")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", metavar="A", help="created, updated, stage, assign, note ...")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="From the start of that day (UTC).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", metavar="H", help="Events by this user.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="At most N events.")] = None,
    reverse: Annotated[
        bool, typer.Option("--reverse", help="Newest first (with --limit: the latest N events).")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show history events, oldest first (--reverse: newest first)."""
    from opp.core.pipeline import history as history_service

    events = history_service.list_events(
        state.context(),
        deal_id,
        action=action,
        since=since,
        actor=actor,
        limit=limit,
        newest_first=reverse,
    )
    from opp.core.records import Event

    emit(
        events,
        fmt,
        rows=_event_rows(events) if fmt is Format.csv else None,
        columns=EVENT_COLUMNS,
        of=Event,
        empty="no events match",
    )


def _event_rows(events: list[Any]) -> list[dict[str, Any]]:
    """Events as CSV rows: a ``created`` event's fields stay one cell (as JSON), not columns of their own."""
    from opp.cli.render import json_text

    return [
        {
            **event.as_dict(),
            **{
                key: json_text(value)
                for key in ("old", "new")
                if isinstance(value := getattr(event, key), dict)
            },
        }
        for event in events
    ]


def delete(ids: IdsArg, fmt: FormatOpt = Format.table) -> None:
    """Delete opportunities, all of them or none: refused for a deal on an issued invoice. Their
    history stays (closed by a deleted event, so --as-of an earlier day still sees them), and opp
    undo brings them back."""
    from opp.core.pipeline import deals

    gone = deals.delete_deals(state.context(), read_ids(ids))
    emit(gone, fmt, columns=DEAL_COLUMNS)
    count = len(gone)
    what, which = ("opportunity", "it") if count == 1 else ("opportunities", "them")
    message(f"deleted {count} {what}; opp undo brings {which} back")


def register(app: typer.Typer) -> None:
    app.command()(create)
    app.command()(show)
    app.command("list")(list_)
    app.command()(edit)
    app.command()(stage)
    app.command()(category)
    app.command()(assign)
    app.command()(unassign)
    app.command()(claim)
    app.command()(note)
    app.command()(notes)
    app.command()(history)
    app.command()(delete)
