"""Shell completion: the scripts in completions/ match the app, and TAB completes values from the database."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from opp.cli import complete
from tests.conftest import OPP_BIN

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


def test_customer_names_complete_escaped_for_bash(team):
    assert bash_complete(team, "opp customer show A") == ["Acme\\ Corp", "Ada\\ Lovelace"]
    assert bash_complete(team, "opp customer show In") == ["Initech"]


def test_org_offers_organizations_and_person_individuals(team):
    assert bash_complete(team, "opp create X --org ") == ["Acme\\ Corp", "Initech"]
    assert bash_complete(team, "opp create X --person ") == ["Ada\\ Lovelace"]
    assert bash_complete(team, "opp create X --person A") == ["Ada\\ Lovelace"]


@pytest.mark.parametrize(
    ("value", "typed", "inserted"),
    [
        ("Initech", "", "Initech"),
        ("Acme Corp", "", "Acme\\ Corp"),
        ("Müller & Söhne", "Mü", "Müller\\ \\&\\ Söhne"),
        ("O'Brien (Ltd); $HOME `x` *", "", "O\\'Brien\\ \\(Ltd\\)\\;\\ \\$HOME\\ \\`x\\`\\ \\*"),
        ("a.b-c_d@e:f,g/h", "", "a.b-c_d@e:f,g/h"),
        ("line\nbreak's", "", "$'line\\x0abreak\\'s'"),
        ("Müller & Söhne", '"Mü', "Müller & Söhne"),
        ('say "$x" \\ `y`', '"s', 'say \\"\\$x\\" \\\\ \\`y\\`'),
        ("O'Brien & Co", "'O", "O'\\''Brien & Co"),
    ],
)
def test_bash_inserts_values_as_one_word(value, typed, inserted):
    assert complete.bash_word(value, typed) == inserted


@pytest.mark.parametrize("typed", ["", "'", '"'])
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_word_reads_back_as_the_value(typed):
    value = 'Müller & Söhne\'s "$HOME" `id` \\ *'
    word = typed + complete.bash_word(value, typed) + typed
    result = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, text=True)
    assert result.stdout == value


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_tab_in_bash_completes_a_name_with_shell_characters_escaped(run_opp, db, tmp_path):
    for args in (("user", "add", "dana"), ("customer", "add", "--org", "Müller & Söhne")):
        assert run_opp(*args).returncode == 0
    script = "\n".join(
        [
            f"source '{COMPLETIONS / 'opp.bash'}'",
            "COMP_WORDS=(opp customer show Mü); COMP_CWORD=3; _opp_completion opp",
            'printf "%s\\n" "${#COMPREPLY[@]}" "${COMPREPLY[@]}"',
            'eval "set -- ${COMPREPLY[0]}"; printf "%s\\n" "$#" "$1"',
            "COMP_WORDS=(opp create Deal --org M); COMP_CWORD=4; _opp_completion opp",
            'printf "%s\\n" "${COMPREPLY[@]}"',
            "COMP_WORDS=(opp create Deal --person M); COMP_CWORD=4; _opp_completion opp",
            'printf "%s\\n" "${#COMPREPLY[@]}"',
        ]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(OPP_DB=db, HOME=str(tmp_path), PATH=f"{Path(OPP_BIN).parent}{os.pathsep}{env.get('PATH', '')}")
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, env=env
    )
    assert result.stderr == ""
    escaped = "Müller\\ \\&\\ Söhne"
    assert result.stdout.splitlines() == ["1", escaped, "1", "Müller & Söhne", escaped, "0"]


def test_the_completion_functions_keep_organizations_and_individuals_apart(team, monkeypatch):
    monkeypatch.setenv("OPP_DB", team.env["OPP_DB"])
    assert complete.complete_organization(None, "") == [
        ("Acme Corp", "organization"),
        ("Initech", "organization"),
    ]
    assert complete.complete_individual(None, "a") == [("Ada Lovelace", "individual")]
    assert [name for name, _ in complete.complete_customer(None, "")] == [
        "Acme Corp",
        "Ada Lovelace",
        "Initech",
    ]


def _interactive_bash(env: dict[str, str]) -> tuple[int, int]:
    """An interactive bash on a terminal (readline inserts what TAB completes), and its terminal."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes bash
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
    return pid, fd


def _read_until(fd: int, marker: str, timeout: float = 20.0) -> str:
    import select
    import time

    out = b""
    end = time.monotonic() + timeout
    while marker.encode() not in out and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out.decode("utf-8", errors="replace")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("typed", ["Mü", '"Mü', "'Mü"])
def test_tab_at_a_bash_prompt_completes_the_line_to_one_argument(run_opp, db, tmp_path, typed):
    import signal

    assert run_opp("customer", "add", "--org", "Müller & Söhne").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPP_")}
    env.update(
        OPP_DB=db,
        HOME=str(tmp_path),
        PS1="$ ",
        TERM="dumb",
        INPUTRC="/dev/null",
        PATH=f"{Path(OPP_BIN).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    pid, fd = _interactive_bash(env)
    try:
        os.write(fd, f"source '{COMPLETIONS / 'opp.bash'}'; echo sourced\n".encode())
        _read_until(fd, "sourced\r\n")
        os.write(fd, f"opp customer show {typed}\t".encode())
        _read_until(fd, "Söhne")
        # The completed line made the arguments of `set --` (Ctrl-A, Ctrl-E), printed one per line.
        os.write(fd, b"\x01set -- \x05 ; printf '<%s>\\n' \"$@\"; echo do''ne\n")
        out = _read_until(fd, "done\r\n")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    assert "<opp>\r\n<customer>\r\n<show>\r\n<Müller & Söhne>\r\n" in out, out
