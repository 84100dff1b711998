"""The small windows of ``opp browse``: pick one of a list, confirm, type a line, add a task, help.

Each is a modal screen that hands back what was chosen (None when Escape cancels it)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class ChoiceDialog(ModalScreen[str | None]):
    """One of a list (stages, users): Enter picks the highlighted one, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*[Option(label, id=value) for value, label in self.choices], id="choices")
            yield Label("Enter choose · Escape cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [value for value, _ in self.choices]
        options.highlighted = values.index(self.current) if self.current in values else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes-or-no question: y (or Enter) says yes, n or Escape no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-question")
            yield Label("y yes · n no", classes="dialog-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptDialog(ModalScreen[str | None]):
    """One line of text: Enter gives it, Escape cancels; ``required`` refuses a blank one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, placeholder: str = "", required: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.required = required

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(placeholder=self.placeholder, id="answer")
            yield Label("Enter save · Escape cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.required and not event.value.strip():
            self.query_one(".dialog-keys", Label).update("Type something, or Escape to cancel")
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TwoLineDialog(ModalScreen[tuple[str, str] | None]):
    """Two lines to type: the first required, the second optional. Enter saves, Escape cancels, Tab
    moves between the two. Hands back both, the second stripped."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    #: Each subclass's: the ids and placeholders of the two lines, and what a blank first one says.
    FIRST: ClassVar[tuple[str, str]] = ("first", "")
    SECOND: ClassVar[tuple[str, str]] = ("second", "")
    WHEN_BLANK = "Type something, or Escape to cancel"

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(placeholder=self.FIRST[1], id=self.FIRST[0])
            yield Input(placeholder=self.SECOND[1], id=self.SECOND[0])
            yield Label("Enter save · Tab next field · Escape cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(f"#{self.FIRST[0]}", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        first = self.query_one(f"#{self.FIRST[0]}", Input)
        if not first.value.strip():
            first.focus()
            self.query_one(".dialog-keys", Label).update(self.WHEN_BLANK)
            return
        self.dismiss((first.value, self.query_one(f"#{self.SECOND[0]}", Input).value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(TwoLineDialog):
    """A note: its text and its kind (internal unless said: customer, meeting)."""

    FIRST = ("note-text", "the note")
    SECOND = ("note-kind", "kind (optional): internal, customer, meeting")


class TaskDialog(TwoLineDialog):
    """A task: its title and an optional due date (2026-12-31, +3d, eow ...)."""

    FIRST = ("task-title", "title")
    SECOND = ("task-due", "due date (optional): 2026-12-31, +3d, eom")
    WHEN_BLANK = "A task needs a title, or Escape to cancel"


KEYS = [
    ("/", "search as you type; Enter keeps the filter, Escape clears it"),
    ("↑ ↓", "select a deal (PgUp/PgDn, Home/End)"),
    ("Enter, Tab", "to the detail tabs (← → switch tabs; Escape back to the list)"),
    ("f", "filter by stage"),
    ("s", "move the deal to a stage (a skip asks to force; lost asks why)"),
    ("a", "assign the deal (or nobody)"),
    ("c", "claim the deal for yourself"),
    ("n", "add a note (internal, or say customer or meeting)"),
    ("t", "add a task"),
    ("b", "the board: stage columns; < > move a card one stage"),
    ("u", "undo your last change"),
    ("r", "refresh"),
    ("?", "this help"),
    ("q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    """The keys, one a line; any of Escape, ? or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        lines = "\n".join(f"{key:<11} {what}" for key, what in KEYS)
        with Vertical(classes="dialog help"):
            yield Label("opp browse: keys", classes="dialog-title")
            yield Static(lines, markup=False)
            yield Label("Escape close", classes="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)
