"""``opp browse``: the master list, its detail tabs and the keys that change a deal.

The screen shows what a :class:`~opp.cli.browse.data.Browser` reads and asks it for every change; a
refused change shows the message the command would give (one line, in the status bar) and the screen
reads the deals again, so that what it shows is never older than the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from opp.cli.browse import view
from opp.cli.browse.data import PAGE_SIZE, Browser
from opp.cli.browse.dialogs import (
    ChoiceDialog,
    ConfirmDialog,
    HelpScreen,
    NoteDialog,
    PromptDialog,
    TaskDialog,
)
from opp.cli.errors import failure_text
from opp.core.errors import OppError

if TYPE_CHECKING:
    from opp.core.records import Opportunity

#: The list's columns, as ``opp list`` shows them: (label, key, width or None for the content's).
COLUMNS: list[tuple[str, str, int | None]] = [
    ("id", "id", None),
    ("title", "title", 20),
    ("customer", "customer", 12),
    ("stage", "stage", None),
    ("value", "value", None),
    ("cur", "currency", 3),
    ("prob", "probability", None),
    ("forecast", "forecast", None),
    ("close", "expected_close", 10),
    ("assignee", "assignee", None),
]


class SearchBox(Input):
    """The search line: every key typed filters the list; Enter keeps the filter, Escape clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear_search", "Clear", show=False)]

    def action_clear_search(self) -> None:
        app = self.app
        assert isinstance(app, BrowseApp)
        app.clear_search()


class DealTable(DataTable[Any]):
    """The list: Home and End select the first and the last deal read (the contract's keys), where
    the table would scroll sideways; ← → still scroll to the columns beyond 80."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First deal", show=False),
        Binding("end", "scroll_bottom", "Last deal", show=False),
    ]


class BrowseApp(App[int]):
    """The master list with a detail panel (Overview, Billables, Activity) and the board."""

    CSS_PATH = "browse.tcss"
    TITLE = "opp browse"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority bindings act when the key arrives, before keys typed after it reach a widget: a
        # quick "/acme" or "acme<Enter>c" lands where it is meant to (see check_action).
        Binding("slash", "search", "Search", priority=True),
        Binding("enter", "keep_search", "Keep", show=False, priority=True),
        Binding("s", "stage", "Stage"),
        Binding("a", "assign", "Assign"),
        Binding("c", "claim", "Claim"),
        Binding("n", "note", "Note"),
        Binding("t", "task", "Task"),
        Binding("b", "board", "Board"),
        Binding("u", "undo", "Undo"),
        Binding("f", "stage_filter", "Filter", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_browse", "Quit"),
    ]

    def __init__(self, browser: Browser) -> None:
        super().__init__()
        self.browser = browser
        #: The deals in the list, as read (page after page), and whether more may follow.
        self.rows: list[Opportunity] = []
        self.more = False
        #: The deal the detail panel shows, as read when it was selected: its version guards changes.
        self.current: Opportunity | None = None
        #: What the status bar says: the last change made, or why it was refused.
        self.status_text = ""
        #: The detail tabs read for the deal shown (Billables and Activity are read when shown).
        self._tabs_read: set[str] = set()

    # -- layout ----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="bar")
        yield SearchBox(placeholder="search title, customer, description", id="search")
        table = DealTable(id="deals", cursor_type="row", zebra_stripes=False)
        yield table
        with TabbedContent(id="detail"):
            with TabPane("Overview", id="overview"):
                yield Static(id="overview-text")
            with TabPane("Billables", id="billables"), VerticalScroll():
                yield Static(id="billables-text")
            with TabPane("Activity", id="activity"), VerticalScroll(id="activity-scroll"):
                yield Static(id="activity-text")
        yield Static(id="status")
        # One line of text, not textual's Footer (a widget a key, restyled on every focus change):
        # it costs a sixth of the start-up.
        yield Static(view.keys_line(view.LIST_KEYS), classes="keys")

    def on_mount(self) -> None:
        table = self.query_one("#deals", DataTable)
        for label, key, width in COLUMNS:
            justify = "right" if key in view.NUMERIC else "left"
            table.add_column(Text(label, justify=justify), key=key, width=width)  # type: ignore[arg-type]
        self.reload()
        table.focus()

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#deals", DataTable)

    def reload(self, keep: int | None = None) -> None:
        """Read the list again from its first page; keep the cursor on deal ``keep`` if it is still
        listed (else on the same row)."""
        table = self.table
        row = table.cursor_row
        table.clear()
        self.rows, self.more = [], True
        try:
            self._load_page()
        except OppError as exc:
            self.show_error(exc)
        target = 0
        if keep is not None:
            ids = [deal.id for deal in self.rows]
            target = ids.index(keep) if keep in ids else min(row, max(len(ids) - 1, 0))
        if self.rows:
            table.move_cursor(row=target, animate=False)
        self._show_detail()
        self._update_bar()

    def _load_page(self) -> None:
        page = self.browser.page(len(self.rows), PAGE_SIZE)
        self.more = len(page) == PAGE_SIZE
        self.rows.extend(page)
        for deal in page:
            self.table.add_row(*view.list_cells(deal), key=str(deal.id))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.more and event.cursor_row >= len(self.rows) - 1:
            try:
                self._load_page()
            except OppError as exc:
                self.show_error(exc)
            self._update_bar()
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.set_focus(self.query_one("#detail", TabbedContent).query_one("Tabs"))

    def _selected_id(self) -> int | None:
        table = self.table
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row].id

    def _show_detail(self) -> None:
        """Show the selected deal's Overview; its Billables and Activity are read when their tab is
        shown (at once if it is the tab open), so that moving along the list reads one deal only."""
        deal_id = self._selected_id()
        overview = self.query_one("#overview-text", Static)
        self._tabs_read = set()
        if deal_id is None:
            self.current = None
            overview.update("no opportunities match")
            self.query_one("#billables-text", Static).update("")
            self.query_one("#activity-text", Static).update("")
            return
        try:
            self.current = self.browser.deal(deal_id)
        except OppError as exc:
            self.current = None
            overview.update(failure_text(exc))
            return
        overview.update(view.overview(self.current))
        self._show_tab(self.query_one("#detail", TabbedContent).active)

    def _show_tab(self, tab: str) -> None:
        """Read and show the Billables or Activity tab of the deal shown, once per deal."""
        deal = self.current
        if deal is None or tab not in ("billables", "activity") or tab in self._tabs_read:
            return
        self._tabs_read.add(tab)
        shown = self.query_one(f"#{tab}-text", Static)
        try:
            if tab == "billables":
                shown.update(view.billables(self.browser.billables(deal.id)))
            else:
                shown.update(view.activity(self.browser.activity(deal.id)))
                self.query_one("#activity-scroll", VerticalScroll).scroll_end(animate=False)
        except OppError as exc:
            shown.update(failure_text(exc))

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._show_tab(event.pane.id or "")

    def _update_bar(self) -> None:
        browser = self.browser
        shown = f"{len(self.rows)}{'+' if self.more else ''} deals"
        parts = [f"opp browse · {browser.actor}", shown]
        if browser.stage:
            parts.append(f"stage {browser.stage}")
        if browser.search:
            parts.append(f"search: {browser.search}")
        self.query_one("#bar", Static).update(Text(" · ".join(parts)))

    # -- the status bar --------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        status = self.query_one("#status", Static)
        status.remove_class("error")
        self.status_text = message
        status.update(Text(message))

    def show_error(self, exc: OppError) -> None:
        status = self.query_one("#status", Static)
        status.add_class("error")
        self.status_text = failure_text(exc)
        status.update(Text(self.status_text))

    # -- search and filters ----------------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one("#search", SearchBox)
        box.display = True
        box.value = self.browser.search
        self.set_focus(box)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "search":
            return
        self.browser.search = event.value
        self.reload()

    #: What the list's keys do only while the list is the screen shown (not on the board or a dialog).
    LIST_ACTIONS = frozenset(
        {
            *("search", "keep_search", "stage_filter", "refresh", "board"),
            *("stage", "assign", "claim", "note", "task", "undo"),
        }
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in self.LIST_ACTIONS:
            return True
        if len(self.screen_stack) > 1:
            return False
        box = self.query_one("#search", SearchBox)
        if action == "keep_search":
            return self.focused is box
        return self.focused is not box if action == "search" else True

    def action_keep_search(self) -> None:
        self.keep_search(self.query_one("#search", SearchBox).value)

    def keep_search(self, value: str) -> None:
        """Enter in the search: keep the filter, back to the list with its first deal selected."""
        self.query_one("#search", SearchBox).display = False
        self.browser.search = value
        self.reload()
        if self.rows:
            self.table.move_cursor(row=0, animate=False)
        self.set_focus(self.table)

    def clear_search(self) -> None:
        box = self.query_one("#search", SearchBox)
        box.display = False
        with box.prevent(Input.Changed):
            box.value = ""
        self.browser.search = ""
        self.reload()
        self.set_focus(self.table)

    def key_escape(self) -> None:
        """Escape in the detail tabs goes back to the list; in the list it clears a search."""
        if self.focused is not self.table:
            self.set_focus(self.table)
        elif self.browser.search:
            self.clear_search()

    def action_stage_filter(self) -> None:
        choices = [("", "every stage"), *((stage.key, stage.name) for stage in self.browser.stages())]

        def chosen(key: str | None) -> None:
            if key is None:
                return
            self.browser.stage = key or None
            self.reload()

        self.push_screen(ChoiceDialog("Show the deals in", choices, self.browser.stage or ""), chosen)

    # -- changes ---------------------------------------------------------------------------------------

    def _change(self, what: Callable[[], Any], done: str | Callable[[], str]) -> None:
        """Make a change through the browser; say ``done``, or the refusal, and read the list again."""
        keep = self._selected_id()
        try:
            what()
        except OppError as exc:
            self.reload(keep=keep)
            self.show_error(exc)
            return
        self.reload(keep=keep)
        self.say(done if isinstance(done, str) else done())

    def _deal(self) -> Opportunity | None:
        if self.current is None:
            self.say("no deal selected")
        return self.current

    def action_stage(self) -> None:
        deal = self._deal()
        if deal is None:
            return
        stages = self.browser.stages()
        kinds = {stage.key: stage.kind for stage in stages}
        choices = [(stage.key, f"{stage.name} ({stage.key})") for stage in stages]

        def move(force: bool = False, reason: str | None = None, *, key: str) -> None:
            self._change(
                lambda: self.browser.move(deal, key, force=force, reason=reason),
                f"opportunity {deal.id} moved to {key}",
            )

        def chosen(key: str | None) -> None:
            if key is None or key == deal.stage:
                return
            if kinds[key] == "lost":
                self.push_screen(
                    PromptDialog(
                        f"#{deal.id} lost: why? (Enter with none to give no reason)", required=False
                    ),
                    lambda reason: None if reason is None else move(reason=reason, key=key),
                )
                return
            refusal = self.browser.needs_force(deal, key)
            if refusal:
                self.push_screen(
                    ConfirmDialog(f"{refusal}.\nForce the move? (noted in history)"),
                    lambda yes: move(force=True, key=key) if yes else self.say("not moved"),
                )
                return
            move(key=key)

        self.push_screen(ChoiceDialog(f"Move #{deal.id} to", choices, deal.stage), chosen)

    def action_assign(self) -> None:
        deal = self._deal()
        if deal is None:
            return
        users = self.browser.users()
        choices = [
            (user.handle, f"{user.handle}" + (f" ({user.name})" if user.name else "")) for user in users
        ]
        choices.append(("", "nobody (unassign)"))

        def chosen(handle: str | None) -> None:
            if handle is None:
                return
            done = (
                f"opportunity {deal.id} assigned to {handle}"
                if handle
                else f"opportunity {deal.id} unassigned"
            )
            self._change(lambda: self.browser.assign(deal, handle or None), done)

        self.push_screen(ChoiceDialog(f"Assign #{deal.id} to", choices, deal.assignee or ""), chosen)

    def action_claim(self) -> None:
        deal = self._deal()
        if deal is not None:
            self._change(
                lambda: self.browser.claim(deal), f"opportunity {deal.id} claimed by {self.browser.actor}"
            )

    def action_note(self) -> None:
        deal = self._deal()
        if deal is None:
            return

        def written(note: tuple[str, str] | None) -> None:
            if note is not None:
                text, kind = note
                self._change(
                    lambda: self.browser.note(deal, text, kind or None),
                    f"note added to opportunity {deal.id}" + (f" ({kind})" if kind else ""),
                )

        self.push_screen(NoteDialog(f"Note on #{deal.id}"), written)

    def action_task(self) -> None:
        deal = self._deal()
        if deal is None:
            return

        def written(task: tuple[str, str] | None) -> None:
            if task is not None:
                title, due = task
                self._change(
                    lambda: self.browser.task(deal, title, due), f"task added to opportunity {deal.id}"
                )

        self.push_screen(TaskDialog(f"Task on #{deal.id}"), written)

    def action_undo(self) -> None:
        undone: list[str] = []

        def undo() -> None:
            result = self.browser.undo()
            deals = ", ".join(str(deal_id) for deal_id in [*result.restored, *result.removed])
            undone.append(f"undid {result.name} (opportunity {deals})")

        self._change(undo, lambda: undone[0])

    def action_refresh(self) -> None:
        self.reload(keep=self._selected_id())
        self.say("refreshed")

    def action_board(self) -> None:
        from opp.cli.browse.board import BoardScreen

        self.push_screen(BoardScreen(self.browser), lambda _: self.reload(keep=self._selected_id()))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_quit_browse(self) -> None:
        self.exit(0)
