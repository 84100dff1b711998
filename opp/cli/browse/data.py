"""What ``opp browse`` reads and changes, each through the same core call as the matching command.

The screen never reads the database itself: it asks a :class:`Browser`, which holds the command's
scope (its list filters) and the core context. Every change goes through the core function the command
uses (so the same rules, history, undo and acting user apply) and, where the screen shows a version of
the deal, with that version, so that a change made on a stale screen is refused as ``opp edit
--if-version`` refuses it.

Three functions here stand in for capabilities that other parts of opp bring: :func:`activity` (the
deal's history; the timeline, with notes, tasks and tickets, replaces it), :func:`add_note` (a note;
its kind comes with typed notes) and :func:`add_task` (refused until tasks exist).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opp.core.errors import Conflict

if TYPE_CHECKING:
    from opp.core.analytics.forecast import Board
    from opp.core.billing.billables import Billables
    from opp.core.context import Context
    from opp.core.pipeline.scope import Scope
    from opp.core.pipeline.undo import UndoResult
    from opp.core.records import Opportunity, Stage, User

#: Deals read from the database at a time: the list asks for the next page as the cursor nears its end.
PAGE_SIZE = 100
#: Cards per stage on the board.
BOARD_CARDS = 20


@dataclass(frozen=True)
class ActivityLine:
    """One line of a deal's Activity tab: when, who, what kind of thing, and what it said."""

    at: datetime
    actor: str
    kind: str
    text: str


@dataclass(frozen=True)
class BoardView:
    """The board as the core figures it, with the version of each card's deal as the board saw it."""

    board: Board
    versions: dict[int, int]


def activity(ctx: Context, deal_id: int) -> list[ActivityLine]:
    """The Activity tab: everything that happened to a deal, oldest first, as ``opp timeline ID``
    tells it (deal events, notes, tasks, tickets and invoices)."""
    from opp.core.work.timeline import timeline

    return [
        ActivityLine(at=entry.at, actor=entry.actor, kind=entry.type, text=entry.text)
        for entry in timeline(ctx, deal_id)
    ]


def add_note(ctx: Context, deal_id: int, text: str, kind: str | None = None) -> None:
    """The ``n`` key: ``opp note ID TEXT [--kind K]`` (internal unless said)."""
    from opp.core.work.notes import add_note as core_add_note

    core_add_note(ctx, deal_id, text, kind=kind)


def add_task(ctx: Context, deal_id: int, title: str, due: str | None) -> None:
    """The ``t`` key: ``opp task add ID TITLE [--due DATE]`` (the acting user is the assignee)."""
    from opp.core.work.tasks import add_task as core_add_task

    core_add_task(ctx, deal_id, title, due=due)


def next_task(deal: Opportunity) -> str | None:
    """The deal's next step for the Overview: its open task due first, when the deal record carries
    one (``next_task``: id, title, due), else None."""
    task = getattr(deal, "next_task", None)
    if task is None:
        return None
    title = task.get("title") if isinstance(task, dict) else getattr(task, "title", "")
    due = task.get("due") if isinstance(task, dict) else getattr(task, "due", None)
    return f"{title} (due {due})" if due else str(title)


class Browser:
    """The deals of one ``opp browse`` session: its scope narrowed by the search and stage filter typed
    on the screen, read a page at a time, and the changes made to them."""

    def __init__(self, ctx: Context, scope: Scope, *, sort: str | None = None) -> None:
        self.ctx = ctx
        self.scope = scope
        self.sort = sort
        #: The search typed on the screen (at first the command's --search).
        self.search = scope.search or ""
        #: The stage the screen shows (at first the command's --stage, when it names one).
        self.stage: str | None = scope.stages[0] if len(scope.stages) == 1 else None
        self._first: list[Opportunity] | None = None

    @property
    def actor(self) -> str:
        return self.ctx.actor

    def filtered(self) -> Scope:
        """The command's scope with the screen's search and stage filter in place of its own."""
        stages = [self.stage] if self.stage else [] if len(self.scope.stages) == 1 else self.scope.stages
        return replace(self.scope, search=self.search or None, stages=stages)

    def page(self, offset: int, size: int = PAGE_SIZE) -> list[Opportunity]:
        """``size`` deals of the list from ``offset`` on, in its order, read from the database alone."""
        from opp.core.pipeline.deals import list_deals

        first, self._first = self._first, None
        if first is not None and offset == 0 and size == PAGE_SIZE:
            return first
        return list_deals(self.ctx, self.filtered(), sort=self.sort, limit=size, offset=offset)

    def check(self) -> None:
        """Refuse bad list filters before the screen opens: the first page is read here (and kept
        for the screen, which then starts without asking again)."""
        self._first = None
        self._first = self.page(0)

    def deal(self, deal_id: int) -> Opportunity:
        from opp.core.pipeline.deals import show_deal

        return show_deal(self.ctx, deal_id).opportunity

    def billables(self, deal_id: int) -> Billables:
        from opp.core.billing.billables import list_billables

        return list_billables(self.ctx, deal_id)

    def activity(self, deal_id: int) -> list[ActivityLine]:
        return activity(self.ctx, deal_id)

    def stages(self) -> list[Stage]:
        from opp.core.pipeline.stages import list_stages

        return list_stages(self.ctx)

    def users(self) -> list[User]:
        from opp.core.pipeline.users import list_users

        return list_users(self.ctx)

    def board(self) -> BoardView:
        """The pipeline board of the open deals (the list's assignee filter applies), in the reporting
        currency, with the version of each card's deal."""
        from opp.core.analytics.forecast import board
        from opp.core.pipeline.deals import fetch_deals

        found = board(self.ctx, assignee=self.scope.assignee, cards=BOARD_CARDS)
        ids = [card.id for column in found.stages for card in column.cards]
        with self.ctx.reading() as conn:
            versions = {deal.id: deal.version for deal in fetch_deals(conn, ids)}
        return BoardView(found, versions)

    # -- changes: each as its command makes it ---------------------------------------------------------

    def needs_force(self, deal: Opportunity, stage: str) -> str | None:
        """Why moving ``deal`` to ``stage`` needs force (the stage rules' refusal of a skip), or None
        when it does not (the move is allowed, or refused whatever the force)."""
        from opp.core.errors import Invalid
        from opp.core.pipeline.stages import plan_move

        pipeline = self._pipeline()
        current, target = pipeline.get(deal.stage), pipeline.get(stage)
        try:
            plan_move(pipeline, current, target)
            return None
        except (Conflict, Invalid) as exc:
            refusal = exc.message
        try:
            plan_move(pipeline, current, target, force=True)
        except (Conflict, Invalid):
            return None
        return refusal

    def _pipeline(self) -> Any:
        from opp.core.pipeline.stages import Pipeline

        return Pipeline(tuple(self.stages()))

    def neighbour_stage(self, deal_stage: str, step: int) -> str | None:
        """The stage one step before (-1) or after (+1) ``deal_stage`` on the board: the open stages in
        order, then closed-won after the last; None past either end."""
        pipeline = self._pipeline()
        keys = [stage.key for stage in pipeline.open_stages]
        won = [stage.key for stage in pipeline.stages if stage.kind == "won"]
        keys += won
        if deal_stage not in keys:
            return None
        index = keys.index(deal_stage) + step
        return keys[index] if 0 <= index < len(keys) else None

    def move(
        self, deal: Opportunity, stage: str, *, force: bool = False, reason: str | None = None
    ) -> Opportunity:
        """``opp stage STAGE ID [--force] [--reason T]``, refused if the deal changed since it was shown."""
        from opp.core.pipeline.deals import move_deals

        return move_deals(
            self.ctx, stage, [deal.id], force=force, reason=reason or None, if_version=deal.version
        )[0]

    def move_card(self, deal_id: int, version: int, stage: str) -> Opportunity:
        """A board move (one stage): ``opp stage STAGE ID``, refused if the card is stale."""
        from opp.core.pipeline.deals import move_deals

        return move_deals(self.ctx, stage, [deal_id], if_version=version)[0]

    def assign(self, deal: Opportunity, handle: str | None) -> Opportunity:
        """``opp assign HANDLE ID``, or ``opp unassign ID`` when ``handle`` is None."""
        from opp.core.pipeline.deals import assign_deals, unassign_deals

        if handle is None:
            return unassign_deals(self.ctx, [deal.id], if_version=deal.version)[0]
        return assign_deals(self.ctx, handle, [deal.id], if_version=deal.version)[0]

    def claim(self, deal: Opportunity) -> Opportunity:
        """``opp claim ID`` for the acting user."""
        from opp.core.pipeline.deals import claim_deals

        return claim_deals(self.ctx, [deal.id], if_version=deal.version)[0]

    def note(self, deal: Opportunity, text: str, kind: str | None = None) -> None:
        """``opp note ID TEXT [--kind K]``."""
        add_note(self.ctx, deal.id, text, kind)

    def task(self, deal: Opportunity, title: str, due: str | None) -> None:
        add_task(self.ctx, deal.id, title, due or None)

    def undo(self) -> UndoResult:
        """``opp undo``: the acting user's last command."""
        from opp.core.pipeline.undo import undo_last

        return undo_last(self.ctx)
