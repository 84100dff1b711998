"""The printed documents (the review page, the invoice): Jinja2 templates shipped in ``opp/templates``.

One environment: HTML templates (``*.html.j2``) autoescape every value; Markdown templates
(``*.md.j2``) escape what a user typed through the ``md`` and ``md_line`` filters instead, as HTML
entities mean nothing there. Jinja2 is imported only when a document is rendered, so the command line
starts without it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from opp.cli.render import UNSET_GROUP
from opp.core.dates import format_date, format_instant
from opp.core.money.amounts import format_money


def check_out(out: str | None, *, force: bool, document: bool) -> None:
    """Refuse ``--out``/``--force`` before any work: ``--out`` without a document format, ``--force``
    without ``--out``, a file that exists without ``--force`` (exit 4), one that cannot be written."""
    from opp.core.errors import Invalid

    if out is not None and not document:
        raise Invalid("--out goes with --format md or --format html")
    if force and out is None:
        raise Invalid("--force goes with --out")
    if out is not None:
        from opp.core.files import check_target

        check_target(out, force=force)


def write_out(text: str, out: str | None, *, force: bool, what: str) -> None:
    """A document to stdout, or to the new file ``out`` (or the existing one, with ``force``: see
    opp.core.files), saying ``wrote WHAT to PATH`` on stderr."""
    import sys

    from opp.cli.render import PipeClosed, message

    if out is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError as exc:
            raise PipeClosed from exc
        return
    from opp.core.files import write_text_file

    path = write_text_file(out, text, force=force)
    message(f"wrote {what} to {path}")


_MD_SPECIAL = str.maketrans({char: "\\" + char for char in "\\`*_[]<>|#~&"})
# What Markdown reads as a heading underline, a rule, a list item or a quote when it starts a line.
_MD_LINE_START = re.compile(r"^([=+-]|\d+(?=[.)]))")


def md(text: Any) -> str:
    """Text safe inside Markdown (and a table cell): special characters escaped, one line."""
    return " ".join(str(text).split()).translate(_MD_SPECIAL)


def md_line(text: Any) -> str:
    """Text shown as a line of its own, as it was typed: also what means something at the start of a
    line is escaped (a customer called ``===`` would otherwise underline the line before it into a
    heading, and vanish)."""
    return _MD_LINE_START.sub(_escape_line_start, md(text))


def _escape_line_start(found: re.Match[str]) -> str:
    start = found.group(0)
    return start + "\\" if start[0].isdigit() else "\\" + start  # 1\. as in "1. item"; \= \- \+


def money(amount: Any) -> str:
    """An amount with thousands separators, as tables show it; empty for none."""
    if not isinstance(amount, Decimal | int | float | str) or amount == "":
        return ""  # none, or a figure a section does not have
    return format_money(amount if isinstance(amount, Decimal) else Decimal(str(amount)))


def signed(amount: Any) -> str:
    """An amount with its sign (``+1,200.00``, ``-300.00``), as a waterfall step shows it."""
    text = money(amount)
    return text if not text or text.startswith("-") or Decimal(str(amount)) == 0 else "+" + text


def day(value: Any) -> str:
    if not isinstance(value, date | str):
        return ""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return format_date(value)
    return str(value)


def percent(ratio: Any) -> str:
    """A ratio (0-1, four decimals) as a percentage to one decimal; empty for none."""
    if not isinstance(ratio, Decimal | int | float | str) or ratio == "":
        return ""
    return f"{(Decimal(str(ratio)) * 100).quantize(Decimal('0.1'))}%"


def _escapes_html(name: str | None) -> bool:
    return not (name or "").endswith(".md.j2")


def times(ratio: Any) -> str:
    """A ratio such as coverage as a multiple to two decimals (``2.14×``); empty for none."""
    if not isinstance(ratio, Decimal | int | float | str) or ratio == "":
        return ""
    return f"{Decimal(str(ratio)).quantize(Decimal('0.01'))}×"


@cache
def environment() -> Any:
    """The Jinja2 environment over the package's templates (autoescaping on)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("opp", "templates"),
        autoescape=_escapes_html,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["unset_group"] = UNSET_GROUP
    env.filters.update(
        md=md, md_line=md_line, money=money, signed=signed, day=day, percent=percent, times=times
    )
    return env


def render(template: str, **values: Any) -> str:
    """The template ``opp/templates/<template>`` filled with ``values``."""
    text: str = environment().get_template(template).render(**values)
    return text
