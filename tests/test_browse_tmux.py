"""``opp browse`` as a person runs it: the installed program in a real terminal (tmux, 80×24), keys
typed, the screen read back; then the claim it made is checked with ``opp history``."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import NOW, OPP_BIN
from tests.test_browse import build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Terminal:
    """A tmux server of this test's own (its own socket), one 80×24 window."""

    def __init__(self, socket: Path) -> None:
        self.socket = str(socket)

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True
        ).stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "opp", command)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "opp", *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "opp")

    def wait_for(self, text: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{shown}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


def test_browse_in_a_terminal_searches_claims_and_quits(tmp_path, db, databases):
    if "://" in db:
        pytest.skip("runs on SQLite")
    build(db)
    done = tmp_path / "exit-code"
    env = {"OPP_DB": db, "OPP_USER": "dana", "OPP_NOW": NOW, "HOME": str(tmp_path), "TERM": "xterm-256color"}
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    command = f"env {assignments} {shlex.quote(OPP_BIN)} browse; echo $? > {shlex.quote(str(done))}; sleep 5"
    terminal = Terminal(tmp_path / "tmux.sock")
    terminal.start(command)
    try:
        terminal.wait_for("opp browse · dana · 5 deals")
        # Typed in one go, as a quick typist does: every key lands where it is meant to.
        terminal.keys("-l", "/hammock")
        terminal.keys("Enter", "c")
        screen = terminal.wait_for("opportunity 2 claimed by dana")
        assert "search: hammock" in screen and "1 deals" in screen
        assert "Globex - Hammock" in screen and "Initech - TPS" not in screen
        terminal.keys("q")
        deadline = time.monotonic() + 15
        while not done.exists() or not done.read_text().strip():
            assert time.monotonic() < deadline, terminal.screen()
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
    finally:
        terminal.close()
    history = subprocess.run(
        [OPP_BIN, "history", "2", "--format", "json"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/bin:/bin"},
        check=True,
    )
    last = json.loads(history.stdout)[-1]
    assert (last["action"], last["new"], last["note"], last["actor"]) == ("assign", "dana", "claim", "dana")
