"""The console script's entry point."""

from __future__ import annotations


def run() -> None:
    from opp.cli.app import lazy_root

    lazy_root().main(prog_name="opp")
