"""The README's commands run as written on the demo: the quick start's and a day of use's shell blocks."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_NOW = "2026-11-26T09:00:00Z"


def shell_block(heading: str) -> list[str]:
    """The opp command lines of the shell blocks under ``## heading``, continuations joined."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S)).replace("\\\n", " ").splitlines()
    return [line for line in lines if line.startswith("opp ")]


def run_line(cli, line: str):
    """One line as the shell runs it: ``a | opp b -`` feeds a's output to b's stdin."""
    stdin = None
    outcome = None
    for part in line.split(" | "):
        words = shlex.split(part, comments=True)
        assert words[0] == "opp", line
        outcome = cli(*words[1:], input=stdin)
        assert "Traceback" not in outcome.stderr
        stdin = outcome.stdout
    return outcome


@pytest.fixture
def demo(cli):
    cli.env["OPP_NOW"] = DEMO_NOW
    cli("demo")
    return cli


def test_the_quick_start_is_exactly_make_demo_and_make_test():
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"## Quick start\n.*?```sh\n(.*?)```", text, re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_the_commands_to_try_after_the_demo_run_on_it(demo):
    lines = shell_block("Quick start")
    assert len(lines) >= 4
    for line in lines:
        run_line(demo, line)


def test_a_day_of_use_ends_with_the_new_deal_as_the_readme_tells(demo):
    lines = shell_block("A day of use")
    assert len(lines) >= 10
    for line in lines:
        run_line(demo, line)
    deal = demo.json("show", "41")
    assert deal["title"] == "Northwind - Enterprise License"
    assert (deal["stage"], deal["probability"]) == ("qualification", 30)
    assert deal["value"] == 50000  # the mistaken 80k was undone
    assert demo.json("show", "2")["assignee"] == "dana"  # claimed
    assert {d["id"] for d in demo.json("list", "--stage", "lost")} >= {4, 7, 9}
    assert demo.json("list", "--assignee", "sam") == []  # all of sam's deals went to priya


def test_around_the_deals_runs_after_a_day_of_use(demo, tmp_path):
    for line in shell_block("A day of use"):
        run_line(demo, line)
    lines = shell_block("Around the deals")
    assert len(lines) >= 6
    for line in lines:
        outcome = run_line(demo, line.replace("review.html", str(tmp_path / "review.html")))
        assert outcome.exit_code == 0, (line, outcome.stderr)
    assert [c["customer"]["name"] for c in demo.json("contact", "list", "41")] == ["Ann Lee"]
    assert demo.json("show", "41")["next_task"]["title"] == "Send the proposal"
    assert (tmp_path / "review.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
