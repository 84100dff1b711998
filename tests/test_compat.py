"""What opp.cli.compat reaches in Typer is still there: the first tests to fail on a Typer that moved it
(``make test-latest`` runs them against the newest Typer)."""

from __future__ import annotations

from opp.cli import coercion, compat
from opp.cli.app import LazyOppGroup, app


def test_the_built_tree_and_the_lazy_builders_name_the_same_commands():
    built = compat.click_command(app)
    builders = compat.command_builders(app)
    assert set(builders) == set(built.commands)
    for name, (build, summary) in builders.items():
        command = build()
        assert command.name == name
        assert summary and summary.splitlines()[0] in (built.commands[name].help or "")


def test_the_console_script_root_is_opps_own_group():
    from opp.cli.app import lazy_root

    root = lazy_root()
    assert isinstance(root, LazyOppGroup) and isinstance(root, compat.TyperGroup)


def test_a_short_help_is_the_first_sentence_within_the_limit():
    assert compat.short_help("Create a deal. Then more words follow.", 40) == "Create a deal."
    assert len(compat.short_help("word " * 30, 20)) <= 20


def test_completion_scripts_call_opp_back_with_its_variable():
    for shell in ("bash", "zsh", "fish"):
        assert "_OPP_COMPLETE" in compat.completion_script("opp", "_OPP_COMPLETE", shell)


def test_plain_options_are_known_by_their_declaration_and_coerced_plainly():
    listing = compat.click_command(app).commands["list"]
    limit = next(param for param in listing.params if param.name == "limit")
    annotation, settings = compat.declared(limit)
    assert annotation in (int, int | None)
    assert settings is not None
    assert isinstance(coercion.plain_coercion(limit), coercion.PlainCoercion)
