"""Shell completion: the scripts in completions/ match the app, and TAB completes values from the database."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from opp.cli import complete

COMPLETIONS = Path(__file__).resolve().parents[1] / "completions"


@pytest.mark.parametrize(("shell", "name"), sorted(complete.SCRIPTS.items()))
def test_the_completion_scripts_are_up_to_date(shell, name):
    path = COMPLETIONS / name
    assert path.is_file(), f"{path} is missing: run make completions"
    assert path.read_text(encoding="utf-8") == complete.script(shell), (
        f"{path} is stale: run make completions"
    )


def test_the_scripts_call_back_into_opp_and_name_every_command():
    for name in complete.SCRIPTS.values():
        text = (COMPLETIONS / name).read_text(encoding="utf-8")
        assert "_OPP_COMPLETE=complete_" in text
        for command in ("opp import", "opp export", "opp undo", "opp stage", "opp customer show"):
            assert f"#   {command} " in text or f"#   {command}\n" in text, (name, command)
    assert (COMPLETIONS / "_opp").read_text(encoding="utf-8").startswith("#compdef opp\n")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(COMPLETIONS / "opp.bash")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def team(opp):
    """dana and Initech (from the template), plus a user, customers and a service."""
    for args in (
        ("user", "add", "sam"),
        ("customer", "add", "--org", "Acme Corp"),
        ("customer", "add", "--person", "Ada Lovelace"),
        ("service", "add", "CONSULT-H", "--name", "Consulting hour", "--price", "150", "--currency", "EUR"),
    ):
        opp(*args)
    return opp


def bash_complete(cli, line: str, **env: str) -> list[str]:
    """What TAB offers after ``line`` in bash (the app run in-process, as the script runs it)."""
    from opp.cli.app import app

    words = line.split(" ")
    extra = {"_OPP_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    result = cli.runner.invoke(app, [], env={**cli.env, **extra, **env})
    assert result.exit_code == 0
    assert result.stderr == ""
    return [value for value in result.stdout.splitlines() if value]


def test_stage_keys_complete(team):
    assert bash_complete(team, "opp stage ") == [
        "lead",
        "qualification",
        "proposal",
        "negotiation",
        "closed-won",
        "closed-lost",
    ]
    assert bash_complete(team, "opp list --stage pro") == ["proposal"]
    assert bash_complete(team, "opp export --stage n") == ["negotiation"]


def test_user_handles_complete(team):
    assert bash_complete(team, "opp assign ") == ["dana", "sam"]
    assert bash_complete(team, "opp list --assignee s") == ["sam"]
    assert bash_complete(team, "opp --as d") == ["dana"]


def test_customer_names_complete(team):
    assert bash_complete(team, "opp create X --org A") == ["Acme Corp", "Ada Lovelace"]
    assert bash_complete(team, "opp customer show In") == ["Initech"]


def test_service_codes_complete(team):
    assert bash_complete(team, "opp bill add 1 --service C") == ["CONSULT-H"]


def test_zsh_and_fish_show_names_beside_values(team):
    from opp.cli.app import app

    zsh = team.runner.invoke(
        app, [], env={**team.env, "_OPP_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "opp assign d"}
    )
    assert '"dana":"Dana Scully"' in zsh.stdout
    fish_env = {
        "_OPP_COMPLETE": "complete_fish",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        "_TYPER_COMPLETE_ARGS": "opp assign d",
    }
    fish = team.runner.invoke(app, [], env={**team.env, **fish_env})
    assert fish.stdout.splitlines() == ["dana\tDana Scully"]


def test_the_installed_opp_answers_the_shell(run_opp):
    assert run_opp("user", "add", "dana").returncode == 0
    result = run_opp(_OPP_COMPLETE="complete_bash", COMP_WORDS="opp assign d", COMP_CWORD="2")
    assert (result.returncode, result.stdout, result.stderr) == (0, "dana\n", "")


def test_completion_without_a_database_offers_nothing_and_creates_nothing(cli, tmp_path):
    missing = tmp_path / "nowhere" / "opp.db"
    assert bash_complete(cli, "opp stage ", OPP_DB=str(missing)) == []
    assert bash_complete(cli, f"opp --db {missing} assign ") == []
    assert not missing.exists()


def test_completion_of_a_broken_database_is_silent(cli, tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_text("not a database", encoding="utf-8")
    assert bash_complete(cli, "opp assign ", OPP_DB=str(broken)) == []
    assert broken.read_text(encoding="utf-8") == "not a database"


def test_report_names_complete_from_the_registry(cli):
    from opp.core.analytics import registry

    assert bash_complete(cli, "opp report ") == list(registry.NAMES)
    assert bash_complete(cli, "opp report c") == [name for name in registry.NAMES if name.startswith("c")]
    assert bash_complete(cli, "opp report cycle --by ") == ["assignee", "month", "quarter"]
    assert bash_complete(cli, "opp report calibration --by ") == ["stage"]
