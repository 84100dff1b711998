"""The console script's entry point."""

from __future__ import annotations

import sys

# What a terminal that cannot show some of opp's characters gets instead.
_ASCII = {
    "…": "...",
    "—": "--",
    "–": "-",
    "·": "-",
    "→": "->",
    "←": "<-",
    "█": "#",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "×": "x",
    "≤": "<=",
    "≥": ">=",
}


def _fallback(error: UnicodeError) -> tuple[str, int]:
    """An encoding error handler: each character the output's encoding lacks as its nearest ASCII
    (``...`` for ``…``, ``e`` for ``é``), else ``?``."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    import unicodedata

    replaced = []
    for char in error.object[error.start : error.end]:
        plain = _ASCII.get(char)
        if plain is None:
            decomposed = unicodedata.normalize("NFKD", char)
            plain = "".join(c for c in decomposed if not unicodedata.combining(c) and c.isascii()) or "?"
        replaced.append(plain)
    return "".join(replaced), error.end


def degrade_output_to_ascii() -> None:
    """Output in a locale that is not UTF-8 (``PYTHONIOENCODING=ascii``, latin-1 terminals) shows
    ASCII stand-ins for what it cannot encode, instead of failing."""
    import codecs

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and codecs.lookup(encoding).name != "utf-8":
            codecs.register_error("opp-ascii", _fallback)
            reconfigure(errors="opp-ascii")


def run() -> None:
    import gc

    from opp.core.collector import COLLECTOR_THRESHOLD

    # Before opp's first import (see opp.core.collector).
    gc.set_threshold(COLLECTOR_THRESHOLD, *gc.get_threshold()[1:])
    from opp.cli.app import lazy_root

    degrade_output_to_ascii()
    try:
        lazy_root().main(prog_name="opp")
    finally:
        # The command is done (its output written, its database closed): what is left is the process's
        # end, where Python walks every object once more for cycles before exiting. Frozen, they are not
        # walked: about 0.1 s of a review at a million deals, 0.06 s of any command that loaded
        # SQLAlchemy (see opp.core.collector).
        gc.freeze()
