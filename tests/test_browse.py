"""``opp browse`` driven headless with Textual's pilot at 80×24, against a database built through the
core: every key, and every refusal shown as the command would word it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Tabs

from opp.cli.browse.app import BrowseApp
from opp.cli.browse.board import BoardScreen, StageCards
from opp.cli.browse.data import Browser
from opp.cli.browse.dialogs import (
    ChoiceDialog,
    ConfirmDialog,
    HelpScreen,
    NoteDialog,
    PromptDialog,
    TaskDialog,
)
from opp.core.billing.billables import add_billable
from opp.core.clock import Clock
from opp.core.context import Context, open_context
from opp.core.pipeline import customers, deals, users
from opp.core.pipeline.history import list_events
from opp.core.pipeline.scope import Scope
from tests.conftest import NOW, seed

# Each test starts the app: a second or more.
pytestmark = pytest.mark.slow
SIZE = (80, 24)


def build(db: str) -> None:
    """Dana and Fox; five open deals at Initech and Globex (one of them Fox's), a line and a note."""
    ctx = seed(db)
    users.add_user(ctx, "fox", name="Fox Mulder")
    customers.add_customer(ctx, "organization", "Globex")
    deals.create_deal(ctx, "Initech - TPS reports", org="Initech", value="12000", close="2026-04-30")
    deals.create_deal(ctx, "Globex - Hammock", org="Globex", value="5000", currency="USD")
    deals.create_deal(ctx, "Initech - Printers", org="Initech", value="800", stage="proposal")
    deals.create_deal(ctx, "Globex - Doomsday device", org="Globex", value="1.5m", assign="fox")
    deals.create_deal(ctx, "Initech - Red stapler", org="Initech", value="99.90", stage="negotiation")
    add_billable(ctx, 1, item="TPS cover sheets", price="1500", quantity="4", tax="20")
    deals.add_note(ctx, 1, "Bill wants the new cover sheets")
    ctx.close()


@pytest.fixture(scope="module")
def browse_template(databases: Any) -> str:
    return str(databases.template(build))


@pytest.fixture
def made(db: str, restore: Callable[[str], None], browse_template: str) -> Iterator[Context]:
    restore(browse_template)
    ctx = open_context(db, actor="dana", clock=Clock.from_env_value(NOW))
    yield ctx
    ctx.close()


@pytest.fixture
def as_fox(db: str, made: Context) -> Iterator[Context]:
    ctx = open_context(db, actor="fox", clock=Clock.from_env_value(NOW))
    yield ctx
    ctx.close()


Scenario = Callable[[BrowseApp, Any], Awaitable[None]]


def drive(ctx: Context, scenario: Scenario, scope: Scope | None = None) -> BrowseApp:
    """Run the app headless at 80×24 through ``scenario(app, pilot)``; returns the app after it."""
    app = BrowseApp(Browser(ctx, scope or Scope()))

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await scenario(app, pilot)

    asyncio.run(run())
    return app


def shown(widget: Any) -> str:
    """The text a Static holds (a Rich renderable laid out 78 columns wide), whether on view or not."""
    console = Console(width=78, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def listed(app: BrowseApp) -> list[int]:
    return [deal.id for deal in app.rows]


def deal(ctx: Context, deal_id: int) -> Any:
    return deals.show_deal(ctx, deal_id).opportunity


def last_event(ctx: Context, deal_id: int) -> Any:
    return list_events(ctx, deal_id)[-1]


async def pick(pilot: Any, app: BrowseApp, value: str) -> None:
    """In the open list dialog, choose the option whose value is ``value``."""
    dialog = app.screen
    assert isinstance(dialog, ChoiceDialog)
    values = [key for key, _ in dialog.choices]
    dialog.query_one("OptionList").highlighted = values.index(value)  # type: ignore[attr-defined]
    await pilot.press("enter")
    await pilot.pause()


# -- the list ----------------------------------------------------------------------------------------


def test_the_list_shows_the_open_deals_and_the_selected_ones_overview(made):
    async def scenario(app, pilot):
        assert listed(app) == [1, 2, 3, 4, 5]
        assert app.current.id == 1
        await pilot.press("down", "down")
        assert app.current.id == 3
        await pilot.press("up")
        assert app.current.id == 2

    drive(made, scenario)


def test_list_filters_are_those_of_opp_list(made):
    async def scenario(app, pilot):
        assert listed(app) == [4]

    drive(made, scenario, Scope(assignee="fox"))


def test_the_list_is_read_a_page_at_a_time(made, monkeypatch):
    monkeypatch.setattr("opp.cli.browse.app.PAGE_SIZE", 2)

    async def scenario(app, pilot):
        assert listed(app) == [1, 2]
        assert app.more
        await pilot.press("down")  # near the end of what is read: the next page follows
        assert listed(app) == [1, 2, 3, 4]
        await pilot.press("down", "down")
        assert listed(app) == [1, 2, 3, 4, 5]
        assert not app.more

    drive(made, scenario)


def test_the_cursor_keys_select_a_deal_and_its_overview_follows(made):
    async def scenario(app, pilot):
        await pilot.press("end")
        await pilot.pause()
        assert app.current.id == 5
        await pilot.press("home")
        await pilot.pause()
        assert app.current.id == 1
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.current.id == 5
        await pilot.press("pageup", "down")
        await pilot.pause()
        assert app.current.id == 2
        assert "Globex - Hammock" in shown(app.query_one("#overview-text"))

    drive(made, scenario)


def test_slash_searches_as_you_type_and_enter_keeps_the_filter(made):
    async def scenario(app, pilot):
        await pilot.press("down", "down")
        await pilot.press("slash", "g", "l", "o")
        assert listed(app) == [2, 4]
        await pilot.press("b", "e", "x", " ", "-", " ", "d")
        assert listed(app) == [4]
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await pilot.press("enter")
        assert listed(app) == [2, 4]
        assert app.focused is app.table
        assert app.current.id == 2  # the first deal of the filtered list
        await pilot.press("escape")  # in the list: clears the search
        assert listed(app) == [1, 2, 3, 4, 5]

    drive(made, scenario)


def test_escape_in_the_search_clears_it(made):
    async def scenario(app, pilot):
        await pilot.press("slash", "s", "t", "a", "p")
        assert listed(app) == [5]
        await pilot.press("escape")
        assert listed(app) == [1, 2, 3, 4, 5]
        assert app.browser.search == ""
        assert app.focused is app.table

    drive(made, scenario)


def test_the_search_matches_customer_and_description_through_the_index(made):
    deals.edit_deal(made, 3, description="Color laser, HP")

    async def scenario(app, pilot):
        await pilot.press("slash", *"initech", "enter")
        assert listed(app) == [1, 3, 5]
        await pilot.press("slash", *["backspace"] * 7, *"laser", "enter")
        assert listed(app) == [3]

    drive(made, scenario)


def test_f_filters_by_stage(made):
    async def scenario(app, pilot):
        await pilot.press("f")
        await pick(pilot, app, "proposal")
        assert listed(app) == [3]
        await pilot.press("f")
        await pick(pilot, app, "")
        assert listed(app) == [1, 2, 3, 4, 5]

    drive(made, scenario)


def test_enter_and_tab_go_to_the_detail_tabs_and_escape_back(made):
    async def scenario(app, pilot):
        await pilot.press("enter")
        assert isinstance(app.focused, Tabs)
        await pilot.press("right")
        assert app.query_one("#detail").active == "billables"
        await pilot.press("escape")
        assert app.focused is app.table
        await pilot.press("tab")
        assert app.focused is not app.table

    drive(made, scenario)


def test_the_detail_tabs_show_billables_and_activity(made):
    async def scenario(app, pilot):
        await pilot.press("enter", "right")
        await pilot.pause()
        billables = shown(app.query_one("#billables-text"))
        assert "TPS cover sheets" in billables
        assert "total 7,200.00 USD" in billables  # 4 × 1,500 = 6,000 + 20 % tax
        await pilot.press("right")
        await pilot.pause()
        activity = shown(app.query_one("#activity-text"))
        assert "Bill wants the new cover sheets" in activity
        assert "dana created" in activity
        # The open tab follows the list: another deal's activity, read when it is selected.
        await pilot.press("escape", "down")
        await pilot.pause()
        assert "Globex - Hammock" in shown(app.query_one("#activity-text"))
        assert "Bill wants" not in shown(app.query_one("#activity-text"))

    drive(made, scenario)


def test_the_billables_and_activity_tabs_are_read_only_when_shown(made, monkeypatch):
    read: list[str] = []
    for tab in ("billables", "activity"):
        original = getattr(Browser, tab)
        monkeypatch.setattr(
            Browser,
            tab,
            lambda self, deal_id, tab=tab, original=original: (read.append(tab), original(self, deal_id))[1],
        )

    async def scenario(app, pilot):
        await pilot.press("down", "down")
        await pilot.pause()
        assert read == []  # moving along the list reads the deal's Overview only
        await pilot.press("enter", "right")
        await pilot.pause()
        assert read == ["billables"]

    drive(made, scenario)


# -- changes -----------------------------------------------------------------------------------------


def test_s_moves_the_deal_one_stage_through_the_stage_rules(made):
    async def scenario(app, pilot):
        await pilot.press("s")
        await pick(pilot, app, "qualification")
        assert app.status_text == "opportunity 1 moved to qualification"
        assert app.current.stage == "qualification"

    drive(made, scenario)
    moved = [event for event in list_events(made, 1) if event.field == "stage"]
    assert [(e.action, e.actor, e.old, e.new) for e in moved] == [("stage", "dana", "lead", "qualification")]


def test_a_skip_asks_to_confirm_the_force(made):
    async def scenario(app, pilot):
        await pilot.press("s")
        await pick(pilot, app, "proposal")
        assert isinstance(app.screen, ConfirmDialog)
        assert "skips qualification" in app.screen.question
        await pilot.press("n")
        assert deal(made, 1).stage == "lead"
        assert app.status_text == "not moved"
        await pilot.press("s")
        await pick(pilot, app, "proposal")
        await pilot.press("y")
        assert app.current.stage == "proposal"

    drive(made, scenario)
    assert last_event(made, 1).note == "forced: skipped qualification"


def test_a_refused_move_shows_the_commands_message(made):
    deals.move_deals(made, "won", [5])

    async def scenario(app, pilot):
        await pilot.press("slash", *"stapler", "enter")
        await pilot.press("s")
        await pick(pilot, app, "lead")
        assert app.status_text == (
            "opportunity 5: the deal is closed-won (hint: to reopen it, run opp stage lead ID --reopen)"
        )

    drive(made, scenario, Scope(status="all"))
    assert deal(made, 5).stage == "closed-won"


def test_lost_asks_for_the_reason(made):
    async def scenario(app, pilot):
        await pilot.press("s")
        await pick(pilot, app, "closed-lost")
        assert isinstance(app.screen, PromptDialog)
        await pilot.press(*"went with Acme", "enter")
        await pilot.pause()
        assert app.status_text == "opportunity 1 moved to closed-lost"
        assert listed(app) == [2, 3, 4, 5]  # the list shows open deals

    drive(made, scenario)
    assert (deal(made, 1).status, deal(made, 1).lost_reason) == ("lost", "went with Acme")


def test_escape_in_a_dialog_changes_nothing(made, unchanged):
    check = unchanged()

    async def scenario(app, pilot):
        for key in ("s", "a", "n", "t"):
            await pilot.press(key)
            assert isinstance(app.screen, ChoiceDialog | NoteDialog | TaskDialog)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is app.screen_stack[0]

    drive(made, scenario)
    check()


def test_a_assigns_and_unassigns(made):
    async def scenario(app, pilot):
        await pilot.press("a")
        await pick(pilot, app, "fox")
        assert app.status_text == "opportunity 1 assigned to fox"
        assert app.current.assignee == "fox"
        await pilot.press("a")
        await pick(pilot, app, "")
        assert app.current.assignee is None

    drive(made, scenario)
    assert [event.action for event in list_events(made, 1)][-2:] == ["assign", "assign"]


def test_c_claims_the_deal_for_the_acting_user(made):
    async def scenario(app, pilot):
        await pilot.press("c")
        assert app.status_text == "opportunity 1 claimed by dana"
        assert app.current.assignee == "dana"

    drive(made, scenario)
    event = last_event(made, 1)
    assert (event.action, event.new, event.note, event.actor) == ("assign", "dana", "claim", "dana")


def test_claiming_a_deal_someone_else_holds_is_refused(made, unchanged):
    check = unchanged()

    async def scenario(app, pilot):
        await pilot.press("down", "down", "down")
        assert app.current.id == 4
        await pilot.press("c")
        assert app.status_text == (
            "opportunity 4 is held by fox (hint: ask fox to unassign it, or reassign it with "
            "opp assign dana 4)"
        )

    drive(made, scenario)
    check()


def test_a_change_on_a_stale_screen_is_refused_as_edit_if_version_and_the_screen_refreshes(made, as_fox):
    async def scenario(app, pilot):
        assert app.current.version == 1
        deals.edit_deal(as_fox, 1, value="13000")  # another operator, while the screen shows version 1
        await pilot.press("c")
        assert app.status_text == (
            "opportunity 1 is at version 2, not 1: it was changed since by fox at 2026-03-10T08:30:00Z "
            "(hint: look at opp show 1 and try again)"
        )
        assert app.current.version == 2  # read again
        assert str(app.current.value) == "13000.00"
        await pilot.press("c")  # on the fresh screen the claim goes through
        assert app.current.assignee == "dana"

    drive(made, scenario)


def test_the_stale_refusal_is_worded_as_edit_if_version_words_it(made, as_fox, cli):
    refused: list[str] = []

    async def scenario(app, pilot):
        deals.edit_deal(as_fox, 1, value="13000")  # another operator, while the screen shows version 1
        await pilot.press("c")
        refused.append(app.status_text)
        assert app.query_one("#status").has_class("error")

    drive(made, scenario)
    refusal = cli.fails(4, "edit", "1", "--if-version", "1", "--title", "x")
    assert refused == [refusal.removeprefix("opp: error: ")]


def test_a_stale_stage_move_and_assignment_are_refused_too(made, as_fox, unchanged):
    async def scenario(app, pilot):
        deals.edit_deal(as_fox, 1, title="Initech - TPS reports v2")
        check = unchanged()
        await pilot.press("s")
        await pick(pilot, app, "qualification")
        assert app.status_text.startswith("opportunity 1 is at version 2, not 1")
        deals.edit_deal(as_fox, 1, title="Initech - TPS reports v3")
        check = unchanged()
        await pilot.press("a")
        await pick(pilot, app, "fox")
        assert app.status_text.startswith("opportunity 1 is at version 3, not 2")
        check()

    drive(made, scenario)


def test_n_adds_a_note(made):
    async def scenario(app, pilot):
        await pilot.press("n")
        assert isinstance(app.screen, NoteDialog)
        await pilot.press(*"call Bill on Monday", "enter")
        await pilot.pause()
        assert app.status_text == "note added to opportunity 1"
        await pilot.press("enter", "right", "right")
        await pilot.pause()
        assert "call Bill on Monday" in shown(app.query_one("#activity-text"))

    drive(made, scenario)
    event = last_event(made, 1)
    assert (event.action, event.note, event.actor, event.field) == (
        "note",
        "call Bill on Monday",
        "dana",
        "internal",
    )


def test_n_adds_a_note_of_the_kind_said(made):
    async def scenario(app, pilot):
        await pilot.press("n", *"met Bill at the office", "tab", *"meeting", "enter")
        await pilot.pause()
        assert app.status_text == "note added to opportunity 1 (meeting)"

    drive(made, scenario)
    event = last_event(made, 1)
    assert (event.action, event.note, event.field) == ("note", "met Bill at the office", "meeting")


def test_a_note_of_an_unknown_kind_is_refused_as_the_command_refuses_it(made, cli, unchanged):
    check = unchanged()
    refusal = cli.fails(2, "note", "1", "hello", "--kind", "gossip")

    async def scenario(app, pilot):
        await pilot.press("n", *"hello", "tab", *"gossip", "enter")
        await pilot.pause()
        assert app.status_text == refusal.removeprefix("opp: error: ")
        assert app.query_one("#status").has_class("error")

    drive(made, scenario)
    check()


def test_a_blank_note_is_not_saved(made, unchanged):
    check = unchanged()

    async def scenario(app, pilot):
        await pilot.press("n", "enter")
        assert isinstance(app.screen, NoteDialog)  # still asking
        await pilot.press("escape")

    drive(made, scenario)
    check()


def test_t_adds_a_task_for_the_acting_user(made):
    async def scenario(app, pilot):
        await pilot.press("t")
        assert isinstance(app.screen, TaskDialog)
        await pilot.press(*"send the contract", "tab", *"+3d", "enter")
        await pilot.pause()

    drive(made, scenario)
    from opp.core.work.tasks import list_tasks

    added = [task for task in list_tasks(made) if task.title == "send the contract"]
    assert len(added) == 1 and added[0].assignee == "dana"
    assert added[0].due is not None


def test_a_task_with_a_bad_due_date_is_refused_as_the_command_refuses_it(made, cli, unchanged):
    check = unchanged()
    refusal = cli.fails(2, "task", "add", "1", "send the contract", "--due", "someday")

    async def scenario(app, pilot):
        await pilot.press("t", *"send the contract", "tab", *"someday", "enter")
        await pilot.pause()
        assert app.status_text == refusal.removeprefix("opp: error: ")

    drive(made, scenario)
    check()


def test_u_undoes_the_last_change(made):
    async def scenario(app, pilot):
        await pilot.press("c")
        assert app.current.assignee == "dana"
        await pilot.press("u")
        assert app.status_text == "undid claim (opportunity 1)"
        assert app.current.assignee is None

    drive(made, scenario)
    assert last_event(made, 1).action == "undo"


def test_u_with_nothing_left_to_undo_says_so(as_fox):
    async def scenario(app, pilot):
        await pilot.press("u")
        assert app.status_text == (
            "nothing to undo: fox has no command left that changed a deal "
            "(hint: undo reverts your own changes to deals; see opp history --actor fox)"
        )

    drive(as_fox, scenario)


def test_undo_refused_shows_the_commands_message(made, as_fox):
    deals.claim_deals(made, [2])
    deals.edit_deal(as_fox, 2, value="5100")  # another user changed the deal since

    async def scenario(app, pilot):
        await pilot.press("u")
        assert app.status_text.startswith("opportunity 2 was changed by fox")

    drive(made, scenario)
    assert deal(made, 2).assignee == "dana"


def test_r_refreshes(made, as_fox):
    async def scenario(app, pilot):
        deals.create_deal(as_fox, "Globex - Cypress Creek", org="Globex")
        assert listed(app) == [1, 2, 3, 4, 5]
        await pilot.press("r")
        assert listed(app) == [1, 2, 3, 4, 5, 6]
        assert app.status_text == "refreshed"

    drive(made, scenario)


def test_question_mark_shows_the_keys(made):
    async def scenario(app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    drive(made, scenario)


def test_q_quits_with_exit_0(made):
    async def scenario(app, pilot):
        await pilot.press("q")

    app = drive(made, scenario)
    assert app.return_code == 0


# -- the board ---------------------------------------------------------------------------------------


def test_b_shows_the_board_with_counts_and_totals(made):
    async def scenario(app, pilot):
        await pilot.press("b")
        await pilot.pause()
        board = app.screen
        assert isinstance(board, BoardScreen)
        stages = [(column.stage, column.count, str(column.value)) for column in board.view.board.stages]
        assert stages == [
            ("lead", 3, "1517000.00"),
            ("qualification", 0, "0.00"),
            ("proposal", 1, "800.00"),
            ("negotiation", 1, "99.90"),
        ]
        assert [cards.stage for cards in board.query(StageCards)] == [s for s, *_ in stages]
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]

    drive(made, scenario)


def test_board_keys_move_the_card_one_stage(made):
    async def scenario(app, pilot):
        await pilot.press("b")
        await pilot.pause()
        board = app.screen
        assert board._selected() == (1, "lead")  # closes soonest
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert board.status_text == "opportunity 1 moved to qualification"
        assert board._selected() == (1, "qualification")
        await pilot.press("less_than_sign", "less_than_sign")
        await pilot.pause()
        assert board.status_text == "opportunity 1 is in the first stage"
        await pilot.press("right", "right", "right")  # negotiation: #5
        assert board._selected() == (5, "negotiation")
        await pilot.press("greater_than_sign")  # one stage on from the last open one: won
        await pilot.pause()
        assert board.status_text == "opportunity 5 moved to closed-won"

    drive(made, scenario)
    assert deal(made, 1).stage == "lead"
    assert deal(made, 5).status == "won"
    assert [e.action for e in list_events(made, 1)][-2:] == ["stage", "stage"]


def test_a_stale_card_is_refused(made, as_fox):
    async def scenario(app, pilot):
        await pilot.press("b")
        await pilot.pause()
        deals.edit_deal(as_fox, 1, value="1")
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert app.screen.status_text.startswith("opportunity 1 is at version 2, not 1")
        await pilot.press("greater_than_sign")  # the board was read again
        await pilot.pause()
        assert app.screen.status_text == "opportunity 1 moved to qualification"

    drive(made, scenario)


def test_no_color_draws_without_colour(made, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def scenario(app, pilot):
        assert app.no_color
        assert listed(app) == [1, 2, 3, 4, 5]

    drive(made, scenario)
