"""``opp browse`` is for a terminal: without one it refuses, as the contract says (exit 2)."""

from __future__ import annotations


def test_browse_refuses_without_a_terminal(opp):
    line = opp.fails(2, "browse")
    assert line == "opp: error: opp browse needs a terminal (hint: in scripts and pipes use opp list)"


def test_browse_refuses_without_a_terminal_before_it_reads_the_filters(opp):
    line = opp.fails(2, "browse", "--stage", "nonsense")
    assert "needs a terminal" in line
