"""Plain coercion of the command line's text to ``str``, ``int`` and enums, without pydantic.

Typer turns each option's text into its annotated type through a pydantic ``TypeAdapter``, built on
first use; importing pydantic and building the adapters costs about 50 ms, more than a whole
``opp --help``. Almost every opp option is text, a whole number, a flag or one of a few choices, which need no
such machinery: :func:`install` gives those options a plain coercion with the same results (Python's
``int`` accepts what pydantic's lax integers accept: surrounding spaces, a sign, ``_`` between digits)
and leaves every other option (paths, lists, validated numbers) to Typer. It relies on details of
Typer that :mod:`opp.cli.compat` reaches (where Typer builds an option's coercion, and what the option
was declared with); if they ever change, nothing is replaced and options are coerced by Typer as
before, only more slowly.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

import typer

from opp.cli import compat

# Settings of an option that only Typer's own coercion honours.
_TYPER_ONLY = ("parser", "click_type", "min", "max")
_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("0", "false", "f", "no", "n", "off")
# No number beyond a 64-bit integer fits in either database.
LARGEST_INT = 2**63 - 1


class PlainCoercion:
    """What Typer's runtime parameter does for one option, for ``str``, ``int``, ``bool`` or an enum."""

    def __init__(self, target: type) -> None:
        self.target = target

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or type(value) is self.target or isinstance(value, Enum):
            return value
        text = str(value)
        if self.target is bool:
            if text.strip().lower() in _TRUE + _FALSE:
                return text.strip().lower() in _TRUE
            raise typer.BadParameter(f"{text!r} is not a boolean (true or false).", ctx=ctx, param=param)
        if self.target is int:
            try:
                number = int(text)
            except ValueError:
                raise typer.BadParameter(f"{text!r} is not a whole number.", ctx=ctx, param=param) from None
            if abs(number) > LARGEST_INT:
                raise typer.BadParameter(
                    f"{text!r} is too large (at most {LARGEST_INT}).", ctx=ctx, param=param
                )
            return number
        if issubclass(self.target, Enum):
            return self._member(text, param, ctx)
        return text

    def _member(self, text: str, param: Any, ctx: Any) -> Enum:
        members = list(self.target)  # type: ignore[call-overload]
        found = compat.declared(param)
        any_case = found is not None and not getattr(found[1], "case_sensitive", True)
        for member in members:
            if member.value == text or (any_case and str(member.value).lower() == text.lower()):
                return member  # type: ignore[no-any-return]
        # A --format option names the formats its command prints in its metavar ([table|json|...]):
        # only those are offered, not every format some other command prints.
        metavar = getattr(param, "metavar", None) or ""
        if metavar.startswith("[") and metavar.endswith("]"):
            named = metavar[1:-1].split("|")
            members = [member for member in members if member.value in named] or members
        choices = ", ".join(repr(member.value) for member in members)
        raise typer.BadParameter(f"{text!r} is not one of {choices}.", ctx=ctx, param=param)


class RepeatedCoercion(PlainCoercion):
    """A repeatable option: no value at all is ``()``, values are a list (as Typer gives them)."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            raise typer.BadParameter("Value must be an iterable.", ctx=ctx, param=param)
        return [PlainCoercion.coerce(self, item, param, ctx) for item in value]


def _plain_target(annotation: Any) -> type | None:
    """``str``, ``int``, ``bool`` or the enum an annotation stands for (also ``X | None``), else None."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(inner) != 1:
            return None
        annotation = inner[0]
    if annotation in (str, int, bool) or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return annotation  # type: ignore[no-any-return]
    return None


def plain_coercion(param: Any) -> PlainCoercion | None:
    """Plain coercion for a Typer parameter that needs nothing more, else None."""
    found = compat.declared(param)
    if found is None or param.nargs != 1:
        return None
    annotation, settings = found
    if any(getattr(settings, name, None) is not None for name in _TYPER_ONLY):
        return None
    if param.multiple:
        # A repeatable option (``list[str]``): each value coerced, as a list.
        if typing.get_origin(annotation) is not list:
            return None
        annotation = typing.get_args(annotation)[0]
        target = _plain_target(annotation)
        return None if target is None else RepeatedCoercion(target)
    target = _plain_target(annotation)
    return None if target is None else PlainCoercion(target)


def install() -> None:
    """Make every Typer parameter (the help options Typer adds on the fly included) take plain
    coercion when it can, at the moment Typer would build its own."""
    compat.replace_coercion(plain_coercion)
