"""The Typer application: global options, the command groups, and the one error boundary.

Heavy libraries (SQLAlchemy, Alembic, tabulate, dateutil) are imported inside the commands that need
them, so ``opp --help``, ``opp --version`` and shell completion start fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from opp import __version__
from opp.cli import coercion, compat, complete, errors, render, state
from opp.cli.compat import TyperGroup
from opp.cli.render import PipeClosed


class OppGroup(TyperGroup):
    """The root command: runs a command and turns every failure into the contract's exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        as_json = errors.wants_json(argv)
        not_utf8 = errors.not_utf8_argument(argv)
        if not_utf8 is not None:
            code = errors.report(
                f"argument '{not_utf8}' is not UTF-8 text",
                exit_code=2,
                hint="see opp --help",
                as_json=as_json,
            )
            sys.exit(code)
        if os.environ.get(complete.COMPLETE_VAR):
            compat.register_completion(complete.bash_word)
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name or "opp",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = result if isinstance(result, int) else 0
            if code == 0:
                _flush_stdout()
        except PipeClosed:
            code = 0
        except typer.Abort:
            code = errors.report("aborted", exit_code=1, as_json=as_json)
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.TyperException as exc:  # Click's usage errors: unknown option, bad choice, ...
            context = getattr(exc, "ctx", None)
            command = getattr(context, "command_path", "opp")
            if compat.is_no_args_is_help(exc) and context is not None:
                # A bare group (`opp`, `opp customer`): show what it offers, as a usage error.
                sys.stdout.write(context.get_help() + "\n")
                code = 2
            else:
                code = errors.report(
                    exc.format_message(),
                    exit_code=exc.exit_code,
                    hint=f"see {command} --help",
                    as_json=as_json,
                )
        except Exception as exc:
            from opp.core.errors import OppError

            known = errors.known_failure(exc)
            if isinstance(exc, OppError):
                code = errors.report_opp_error(exc, as_json=as_json)
            elif known is not None:
                message, known_code, hint = known
                code = errors.report(message, exit_code=known_code, hint=hint, as_json=as_json)
            elif errors.is_output_failure(exc) and not errors.debug_enabled():
                code = errors.report_output_failure(exc, saved=state.saved(), as_json=as_json)
            elif errors.debug_enabled():
                raise
            else:
                code = errors.report(
                    f"internal error: {type(exc).__name__}: {exc}",
                    exit_code=1,
                    hint="run again with OPP_DEBUG=1 for the traceback, and report it",
                    as_json=as_json,
                )
        finally:
            state.close()
            render.RAW_CSV = render.WIDE = False  # the global flags hold for one command only
        if code == 0:
            _flush_stdout()
        sys.exit(code)


def _flush_stdout() -> None:
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()


class LazyOppGroup(OppGroup):
    """The root as the console script runs it: each command is built from its registration only when
    it is used, so `opp --version`, `opp --help` and `opp list` do not pay for building ~60 commands.

    The commands are registered on ``app`` as usual (cheap); ``app`` itself builds the whole tree at
    once, which tests and the completion-script generator use.
    """

    builders: dict[str, Callable[[], Any]]
    summaries: dict[str, str]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.builders)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in self.commands and name in self.builders:
            self.commands[name] = self.builders[name]()
        return self.commands.get(name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as exc:
            from difflib import get_close_matches

            matches = get_close_matches(args[0], list(self.builders)) if args else []
            if matches and "Did you mean" not in exc.message:
                exc.message = (
                    exc.message.rstrip(".") + ". Did you mean " + ", ".join(map(repr, matches)) + "?"
                )
            raise

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from the registrations' help texts, without building the commands."""
        limit = formatter.width - 6 - max(len(name) for name in self.builders)
        rows = [(name, compat.short_help(self.summaries[name], limit)) for name in self.builders]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


SETTINGS: dict[str, Any] = {
    "name": "opp",
    "help": "opp: a command-line sales pipeline. Track deals through stages, assign and claim them, "
    "forecast revenue and see the whole history.",
    "no_args_is_help": True,
    "rich_markup_mode": None,
    "pretty_exceptions_enable": False,
    "add_completion": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}
app = typer.Typer(cls=OppGroup, **SETTINGS)
coercion.install()


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"opp {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="OPP_DB",
            metavar="URL_OR_PATH",
            help="SQLite file path or SQLAlchemy URL (default: opp.db in the user data directory).",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="OPP_USER",
            metavar="HANDLE",
            help="The acting user (default: the login name).",
            autocompletion=complete.complete_user,
        ),
    ] = None,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Write CSV cells as they are, without the spreadsheet formula guard."),
    ] = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="Print tables whole: at a terminal, long text is otherwise shortened with … to fit its "
            "width (COLUMNS if set); into a pipe or file tables are never fitted.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Global settings come before the command; OPP_NOW sets the clock, OPP_DEBUG=1 shows tracebacks."""
    state.configure(db=db, actor=actor)
    render.RAW_CSV = raw
    render.WIDE = wide


def _register() -> None:
    from opp.cli import (
        bill,
        browse,
        config_cmd,
        contacts,
        customers,
        db,
        deals,
        demo,
        fields,
        forecast,
        insight,
        invoice,
        quota,
        rates,
        report,
        review,
        stages,
        tasks,
        tickets,
        transfer,
        undo,
        users,
    )

    deals.register(app)
    browse.register(app)
    forecast.register(app)
    report.register(app)
    review.register(app)
    invoice.register(app)
    insight.register(app)
    transfer.register(app)
    undo.register(app)
    db.register(app)
    demo.register(app)
    tasks.register(app)
    tickets.register(app)
    app.add_typer(customers.app, name="customer")
    app.add_typer(contacts.app, name="contact")
    app.add_typer(users.app, name="user")
    app.add_typer(stages.app, name="stages")
    app.add_typer(fields.app, name="field")
    app.add_typer(bill.app, name="bill")
    app.add_typer(bill.service_app, name="service")
    app.add_typer(rates.app, name="rate")
    app.add_typer(quota.app, name="quota")
    app.add_typer(config_cmd.app, name="config")


_register()


def lazy_root() -> Any:
    """The root command with the global options of ``app`` and its commands built on first use."""
    shell = typer.Typer(cls=LazyOppGroup, **SETTINGS)
    assert app.registered_callback is not None
    shell.registered_callback = app.registered_callback
    root = compat.click_command(shell)
    assert isinstance(root, LazyOppGroup)
    root.builders, root.summaries = {}, {}
    for name, (build, summary) in compat.command_builders(app).items():
        root.builders[name] = build
        root.summaries[name] = summary
    return root
