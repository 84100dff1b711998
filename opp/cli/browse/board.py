"""The board of ``opp browse``: a column per open stage with its count and totals in the reporting
currency (the core's pipeline figures), its deals as cards; ``<`` and ``>`` move the selected card one
stage back or on, under the stage rules, as ``opp stage`` would."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalScroll, Vertical
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from opp.cli.browse.view import BOARD_KEYS, cut, keys_line
from opp.cli.errors import failure_text
from opp.core.errors import OppError
from opp.core.money.amounts import format_money

if TYPE_CHECKING:
    from opp.cli.browse.data import BoardView, Browser


class StageCards(OptionList):
    """A stage's cards, one option per deal (its id as the option's id)."""

    def __init__(self, *cards: Option, stage: str) -> None:
        super().__init__(*cards, classes="cards")
        self.stage = stage


class BoardScreen(Screen[None]):
    """Stage columns; ←/→ change column, ↑/↓ change card, </> move the card, Escape or b back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "column(-1)", "Column", show=False, priority=True),
        Binding("right", "column(1)", "Column", show=False, priority=True),
        Binding("less_than_sign", "move(-1)", "< Back a stage"),
        Binding("greater_than_sign", "move(1)", "> On a stage"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape,b", "close", "List"),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit_browse", "Quit"),
    ]

    def __init__(self, browser: Browser) -> None:
        super().__init__()
        self.browser = browser
        self.view: BoardView | None = None
        self.stages: list[str] = []
        self.status_text = ""

    def compose(self) -> ComposeResult:
        yield Static(id="board-title")
        yield HorizontalScroll(id="board")
        yield Static(id="board-status", classes="status")
        yield Static(keys_line(BOARD_KEYS), classes="keys")

    def on_mount(self) -> None:
        self.load()

    def load(self, focus_deal: int | None = None) -> None:
        """Read the board again; put the cursor on ``focus_deal`` wherever it now is."""
        title = self.query_one("#board-title", Static)
        try:
            self.view = self.browser.board()
        except OppError as exc:
            self.view = None
            title.update(Text(failure_text(exc)))
            return
        board = self.view.board
        title.update(
            Text(
                f"Pipeline · {board.total.count} open deals · value {format_money(board.total.value)} "
                f"· forecast {format_money(board.total.forecast)} {board.currency}"
            )
        )
        self.stages = [column.stage for column in board.stages]
        container = self.query_one("#board", HorizontalScroll)
        container.remove_children()
        columns = []
        for column in board.stages:
            header = Text(f"{column.name} ({column.count})\n", style="bold")
            header.append(f"{format_money(column.value)} {board.currency}", style="")
            cards = [
                Option(
                    Text(f"#{card.id} {cut(card.title, 15)}\n{format_money(card.value)} {card.currency}"),
                    id=str(card.id),
                )
                for card in column.cards
            ]
            if column.more:
                cards.append(Option(Text(f"… {column.more} more", style="dim"), disabled=True))
            columns.append(
                Vertical(
                    Static(header, classes="column-head"),
                    StageCards(*cards, stage=column.stage),
                    classes="column",
                )
            )
        container.mount_all(columns)
        self.call_after_refresh(self._focus, focus_deal)

    def _focus(self, deal_id: int | None) -> None:
        lists = self._columns()
        for options in lists:
            if deal_id is not None:
                try:
                    options.highlighted = options.get_option_index(str(deal_id))
                except Exception:  # the card is not in this column
                    continue
                options.focus()
                return
        for options in lists:
            if options.option_count and not options.get_option_at_index(0).disabled:
                options.highlighted = options.highlighted or 0
                options.focus()
                return
        if lists:
            lists[0].focus()

    def _columns(self) -> list[StageCards]:
        return list(self.query(StageCards))

    def action_column(self, step: int) -> None:
        columns = self._columns()
        if not columns:
            return
        here = columns.index(self.focused) if self.focused in columns else 0
        target = columns[max(0, min(len(columns) - 1, here + step))]
        if target.highlighted is None and target.option_count:
            target.highlighted = 0
        target.focus()
        target.scroll_visible()

    def _selected(self) -> tuple[int, str] | None:
        focused = self.focused
        if not isinstance(focused, StageCards) or focused.highlighted is None:
            return None
        option = focused.get_option_at_index(focused.highlighted)
        if option.id is None:
            return None
        return int(option.id), focused.stage

    def say(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#board-status", Static)
        status.set_class(error, "error")
        self.status_text = message
        status.update(Text(message))

    def action_move(self, step: int) -> None:
        selected = self._selected()
        if selected is None or self.view is None:
            self.say("no card selected")
            return
        deal_id, stage = selected
        target = self.browser.neighbour_stage(stage, step)
        if target is None:
            self.say(f"opportunity {deal_id} is in the first stage")
            return
        try:
            self.browser.move_card(deal_id, self.view.versions[deal_id], target)
        except OppError as exc:
            self.load(focus_deal=deal_id)
            self.say(failure_text(exc), error=True)
            return
        self.load(focus_deal=deal_id)
        self.say(f"opportunity {deal_id} moved to {target}")

    def action_refresh(self) -> None:
        selected = self._selected()
        self.load(focus_deal=selected[0] if selected else None)
        self.say("refreshed")

    def action_close(self) -> None:
        self.dismiss(None)
