"""The parts of Typer (and the copy of Click it carries) that opp uses beyond Typer's public API.

Typer's public API is what ``import typer`` exports; everything here reaches past it, into modules Typer
may rearrange in any minor release. It is all in this one module so that a new Typer breaks one file,
and ``make test-latest`` runs the fast tests against the newest Typer to show such a break before a
user does. pyproject.toml pins Typer below its next minor for the same reason. Each item says why opp
needs it; the rest of opp imports Typer's internals only from here.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from functools import partial
from typing import Any

import typer

# The class of one command, likewise not exported: ``opp report NAME`` subclasses it to say that an option
# of another report "does not apply" to this one, where Click would only say "no such option".
from typer.core import TyperCommand as TyperCommand

# The root command's class. Typer's ``Typer(cls=...)`` takes a subclass of the group class Typer builds,
# which ``typer`` does not export: opp's root overrides ``main`` to turn every failure into the contract's
# exit code, and the console script's root builds each command only when it is used.
from typer.core import TyperGroup as TyperGroup


def unknown_option_name(exc: BaseException) -> str | None:
    """The option Click's parser did not know, when ``exc`` is its "no such option" error (Click's
    ``NoSuchOption``, which Typer's copy of Click does not export), else None."""
    if type(exc).__name__ != "NoSuchOption":
        return None
    name = getattr(exc, "option_name", None)
    return name if isinstance(name, str) else None


__all__ = [
    "TyperCommand",
    "TyperGroup",
    "click_command",
    "command_builders",
    "completion_script",
    "declared",
    "is_no_args_is_help",
    "register_completion",
    "replace_coercion",
    "short_help",
    "unknown_option_name",
]


def click_command(app: typer.Typer) -> Any:
    """The Click command tree of ``app``, every command built (Typer's documented way to reach Click, but
    under ``typer.main``): completion scripts list the commands, tests walk the tree."""
    from typer.main import get_command

    return get_command(app)


def command_builders(app: typer.Typer) -> dict[str, tuple[Callable[[], Any], str]]:
    """For each command and group registered on ``app``: a function that builds it, and its one-line help.

    The console script builds only the command it runs (building all of them costs more than a whole
    ``opp --help``), so it needs Typer's builders of one command from its registration, which are
    internal to ``typer.main``. The arguments passed are those Typer passes when it builds the tree.
    """
    from typer.main import (
        get_command_from_info,
        get_command_name,
        get_group_from_info,
        solve_typer_info_help,
    )

    found: dict[str, tuple[Callable[[], Any], str]] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or get_command_name(info.callback.__name__)
        summary = (
            inspect.cleandoc(info.help)
            if isinstance(info.help, str)
            else (inspect.getdoc(info.callback) or "")
        )
        build = partial(get_command_from_info, info, pretty_exceptions_short=True, rich_markup_mode=None)
        found[name] = (build, summary)
    for group in app.registered_groups:
        assert isinstance(group.name, str)
        build_group = partial(
            get_group_from_info,
            group,
            pretty_exceptions_short=True,
            rich_markup_mode=None,
            suggest_commands=True,
        )
        found[group.name] = (build_group, solve_typer_info_help(group))
    return found


def short_help(text: str, limit: int) -> str:
    """A command's help cut to its first sentence within ``limit`` characters, as Click shortens it in a
    command list: the lazily built root lists commands without building them, and must read the same."""
    from typer._click.utils import make_default_short_help

    return make_default_short_help(text, limit)


def completion_script(prog_name: str, complete_var: str, shell: str) -> str:
    """The completion script Typer's ``--install-completion`` would write for ``shell``: opp ships the
    scripts pre-generated in ``completions/`` (``make completions``), which needs Typer's generator."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=prog_name, complete_var=complete_var, shell=shell)


def register_completion(answer_bash: Callable[[str, str], str]) -> None:
    """Have ``opp`` answer TAB in bash, zsh and fish through Typer's completion classes (registered with
    Click only by Typer's ``--install-completion`` option, which opp leaves out), bash's answer with each
    value passed through ``answer_bash(value, typed)``: Typer's bash class prints values as they are, and
    bash inserts them unquoted. ``typed`` is the word being completed as the shell has it so far."""
    from typer._click.shell_completion import add_completion_class
    from typer._completion_classes import BashComplete, completion_init

    class QuotingBashComplete(BashComplete):
        def get_completion_args(self) -> tuple[list[str], str]:
            args, incomplete = super().get_completion_args()
            words = os.environ.get("COMP_WORDS", "")
            raw = words.split("\n") if "\n" in words else words.split(" ")
            cword = int(os.environ.get("COMP_CWORD", "0"))
            self.typed = raw[cword] if 0 <= cword < len(raw) else ""
            return args, incomplete

        def format_completion(self, item: Any) -> str:
            return answer_bash(str(item.value), getattr(self, "typed", ""))

    completion_init()
    add_completion_class(QuotingBashComplete, "bash")


def is_no_args_is_help(error: Exception) -> bool:
    """Whether ``error`` is Click's "a group was called without a command" (it shows the group's help):
    opp prints that help as a usage error (exit 2). The class is not exported, so it is known by name."""
    return type(error).__name__ == "NoArgsIsHelpError"


def declared(param: Any) -> tuple[Any, Any] | None:
    """The annotation a Typer parameter was declared with and its ``typer.Option``/``typer.Argument``
    settings, or None for a parameter Typer did not make: Typer keeps them on the parameter
    (``type_descriptor``), outside Click's API, and opp's plain coercion picks its parameters by them."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return None
    return descriptor.annotation, descriptor.parameter_info


def replace_coercion(coercion_for: Callable[[Any], Any]) -> None:
    """Have every Typer parameter take ``coercion_for(param)`` as its coercion, or Typer's own where that
    is None, at the moment Typer would build its own (``_TyperParameter.get_runtime_param``, which does
    so on first use): :mod:`opp.cli.coercion` spares importing pydantic this way. A Typer without that
    hook is left as it is, and options are coerced by Typer as before, only slower."""
    from typer import core

    parameter = getattr(core, "_TyperParameter", None)
    typer_own = getattr(parameter, "get_runtime_param", None)
    if parameter is None or typer_own is None or getattr(typer_own, "opp_replaced", False):
        return

    def get_runtime_param(self: Any) -> Any:
        if getattr(self, "_runtime_param", None) is None:
            self._runtime_param = coercion_for(self)
        return self._runtime_param if self._runtime_param is not None else typer_own(self)

    get_runtime_param.opp_replaced = True  # type: ignore[attr-defined]
    parameter.get_runtime_param = get_runtime_param
