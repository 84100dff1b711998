"""The one hierarchy of failures the core reports.

The CLI maps each class to an exit code in one place (``opp.cli.errors``); a script that imports the
core catches these directly. Every error carries a one-line ``message`` and, where it helps, a ``hint``
that says what to do instead.
"""

from __future__ import annotations


class OppError(Exception):
    """Base of every failure opp reports on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class Invalid(OppError):
    """The input is malformed or out of range (a date that does not exist, a probability of 150)."""


class UnknownStage(Invalid):
    """A stage key that names no stage of the pipeline; ``value`` is the text as given."""

    def __init__(self, value: str, *, stages: list[str]) -> None:
        super().__init__(f"unknown stage {value!r}", hint="stages are " + ", ".join(stages))
        self.value = value


class NotFound(OppError):
    """A referenced record does not exist (an opportunity id, a customer, a user)."""


class Conflict(OppError):
    """The input is well-formed but a rule or a concurrent change refuses it."""


class StageRuleViolation(Conflict):
    """A stage move that the pipeline's rules refuse (a skipped stage without force, a closed deal)."""


class Unavailable(OppError):
    """The database cannot be used: it cannot be opened, is locked, or its schema is newer than opp."""
