"""`opp review`: the weekly page. Every section has the keys of its own command (and the same figures),
the Markdown and HTML pages show them, the HTML is self-contained and escapes what users typed, and
`--out` writes safely. A slow test looks at the page in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.conftest import Cli

NOW = "2026-03-10T12:00:00Z"
SECTIONS = ["pipeline", "forecast", "attainment", "waterfall", "won", "lost", "pushes", "stuck", "overdue",
            "overdue_tasks"]  # fmt: skip
TOP = ["period", "period_start", "period_end", "since", "today", "currency", "assignee", *SECTIONS]
XSS = "<script>alert(1)</script>"


def day(n: int) -> str:
    return f"2026-03-{n:02d}T10:00:00Z"


def build(opp: Cli) -> None:
    """A small pipeline with a week of changes (March 3 to 10) and a deal titled like a script."""
    opp("user", "add", "sam", OPP_NOW="2026-01-05T09:00:00Z")
    make = [
        ("Website relaunch", "12000", "2026-03-20", ("--assign", "dana", "--stage", "proposal")),
        (
            XSS,
            "4000",
            "2026-03-25",
            (
                "--assign",
                "sam",
            ),
        ),
        ("Support renewal", "8000", "2026-03-31", ("--assign", "sam", "--stage", "negotiation")),
        ("Data platform", "30000", "2026-02-27", ("--assign", "dana", "--stage", "qualification")),
        (
            "Training",
            "2500",
            "2026-03-12",
            (
                "--assign",
                "dana",
            ),
        ),
        ("Licences", "6000", "2026-03-28", ("--stage", "negotiation", "--assign", "dana")),
    ]
    for title, value, close, extra in make:
        opp("create", title, "--org", "Initech", "--value", value, "--close", close, *extra,
            OPP_NOW="2026-01-05T10:00:00Z")  # fmt: skip
    opp("edit", 1, "--value", "15000", OPP_NOW=day(4))
    opp("edit", 2, "--close", "2026-04-20", OPP_NOW=day(5))
    opp("stage", "won", 6, OPP_NOW=day(6))
    opp("stage", "lost", 5, "--reason", "budget <cut>", OPP_NOW=day(9))
    opp("create", "Audit", "--org", "Initech", "--value", "3000", "--close", "2026-03-30", "--assign", "sam",
        OPP_NOW=day(8))  # fmt: skip


@pytest.fixture(scope="module")
def review_template(databases, seeded):
    def make(db):
        seeded(db).close()
        build(Cli(db))

    return databases.template(make)


@pytest.fixture
def shop(cli, restore, review_template):
    restore(review_template)
    cli.env["OPP_NOW"] = NOW
    return cli


def exact(cli, *args, **env):
    return json.loads(cli(*args, "--format", "json", **env).stdout, parse_float=str)


def test_every_section_has_the_keys_and_figures_of_its_own_command(shop):
    shop("task", "add", "4", "Call them back", "--due", "2026-03-02", "--assign", "sam")
    shop("task", "add", "3", "Send the contract", "--due", "2026-03-20", "--assign", "sam")
    found = exact(shop, "review")
    assert list(found) == TOP
    assert (found["period"], found["period_start"], found["period_end"]) == (
        "2026Q1",
        "2026-01-01",
        "2026-03-31",
    )
    assert (found["since"], found["today"], found["currency"]) == ("2026-03-03", "2026-03-10", "USD")
    assert found["pipeline"] == exact(shop, "pipeline")
    week = ("--from", "2026-03-03", "--to", "2026-03-10", "--period", "2026Q1")
    assert found["waterfall"] == exact(shop, "report", "waterfall", *week)
    listed = exact(shop, "list", "--status", "all")
    deal_keys = list(listed[0])
    for section in ("won", "lost", "stuck", "overdue"):
        assert all(list(deal) == deal_keys for deal in found[section]), section
    assert [deal["id"] for deal in found["won"]] == [6]
    assert [deal["id"] for deal in found["lost"]] == [5]
    assert found["pushes"] == exact(shop, "report", "pushes", "--since", "2026-03-03")
    assert [deal["id"] for deal in found["pushes"]] == [2]
    assert found["stuck"] == exact(shop, "report", "stuck", "--limit", "25")
    assert found["overdue"] == exact(shop, "report", "overdue", "--limit", "25")
    assert [deal["id"] for deal in found["overdue"]] == [4]
    assert found["forecast"] == exact(shop, "forecast", "--by", "category", "--period", "2026Q1")
    assert list(found["forecast"]["rollups"]) == ["commit", "best_case", "pipeline"]
    assert found["attainment"] == exact(shop, "report", "attainment", "--period", "2026Q1")
    assert found["overdue_tasks"] == exact(shop, "task", "list", "--overdue")
    assert [task["title"] for task in found["overdue_tasks"]] == ["Call them back"]


def test_every_section_is_read_at_one_instant(shop):
    """A deal saved while the page is being made (here, as the first half begins to read) is in no
    section: the halves read at one snapshot, every section of a half in its half's transaction."""
    import threading

    from sqlalchemy import event

    from opp.core.analytics.review import review
    from opp.core.clock import Clock
    from opp.core.context import open_context

    before = {
        "pipeline": exact(shop, "pipeline"),
        "forecast": exact(shop, "forecast", "--by", "category", "--period", "2026Q1"),
    }
    ctx = open_context(shop.db, actor="dana", clock=Clock.from_env_value(NOW))
    saved: list[str] = []

    @event.listens_for(ctx.store.engine, "before_cursor_execute")
    def save_one_meanwhile(*_args) -> None:
        if not saved and threading.current_thread() is not threading.main_thread():
            saved.append("Late")
            shop("create", "Late", "--org", "Initech", "--value", "50000", "--close", "2026-03-29")

    try:
        page = review(ctx).as_dict()
    finally:
        ctx.close()
    assert saved
    found = json.loads(json.dumps(page, default=str), parse_float=str)
    assert found["pipeline"] == before["pipeline"]
    assert found["forecast"] == before["forecast"]
    assert exact(shop, "pipeline") != before["pipeline"]  # it was saved all the same


def test_the_waterfall_section_covers_the_week(shop):
    flow = exact(shop, "review")["waterfall"]
    assert flow["start"] == {"count": 6, "value": "62500.00"}  # 12000 + 4000 + 8000 + 30000 + 2500 + 6000
    steps = {step["step"]: (step["count"], step["value"]) for step in flow["steps"] if step["count"]}
    assert steps == {
        "increased": (1, "3000.00"),
        "won": (1, "-6000.00"),
        "lost": (1, "-2500.00"),
        "pushed": (1, "-4000.00"),
        "created": (1, "3000.00"),
    }
    assert flow["end"] == {"count": 4, "value": "56000.00"}  # 15000 + 8000 + 30000 + 3000


def test_period_since_and_assignee_narrow_every_section(shop):
    found = exact(shop, "review", "--period", "2026-03", "--since", "2026-03-07", "--assignee", "Sam")
    assert (found["period"], found["since"], found["assignee"]) == ("2026-03", "2026-03-07", "Sam")
    assert found["pipeline"] == exact(shop, "pipeline", "--assignee", "sam")
    assert found["won"] == [] and found["lost"] == [] and found["pushes"] == []
    assert found["waterfall"]["steps"][6] == {"step": "created", "count": 1, "value": "3000.00"}


def test_markdown_is_for_chat_and_escapes_what_users_typed(shop):
    text = shop("review", "--format", "md").stdout
    headings = ("# Pipeline review 2026Q1", "## Pipeline", "## Forecast by category", "## Attainment",
                "## Waterfall 2026-03-03 → 2026-03-10", "## Won since 2026-03-03", "## Lost since 2026-03-03",
                "## Pushed since 2026-03-03", "## Stuck", "## Overdue", "## Overdue tasks")  # fmt: skip
    for heading in headings:
        assert f"\n{heading}" in "\n" + text, heading
    assert "| **End** | **4** | **56,000.00** |" in text
    assert "| increased | 1 | +3,000.00 |" in text
    assert "\\<script\\>alert(1)\\</script\\>" in text and XSS not in text
    assert "budget \\<cut\\>" in text


def test_html_is_one_self_contained_page_with_charts(shop):
    page = shop("review", "--format", "html").stdout
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for outside in ("<script", "http://", "https://", "<link", "src=", "@import", "url(", "<iframe", "<img"):
        assert outside not in page.lower(), outside
    assert "@page { size: A4" in page and "@media print" in page
    assert page.count("<svg") == 3  # pipeline, waterfall and attainment per user (won, without quotas)
    assert "Open pipeline by stage" in page and "Pipeline waterfall" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and XSS not in page
    assert "budget &lt;cut&gt;" in page
    assert "56,000.00" in page and "+3,000.00" in page
    assert "Website relaunch" in page and "Data platform" in page


def test_out_writes_the_page_and_refuses_to_overwrite_without_force(shop, tmp_path):
    target = tmp_path / "review.html"
    outcome = shop("review", "--format", "html", "--out", target)
    assert outcome.stdout == "" and f"wrote the review to {target}" in outcome.stderr
    first = target.read_text(encoding="utf-8")
    assert first == shop("review", "--format", "html").stdout
    line = shop.fails(4, "review", "--format", "html", "--out", target)
    assert "already exists" in line and "--force" in line
    shop("review", "--format", "md", "--out", target, "--force")
    assert target.read_text(encoding="utf-8").startswith("# Pipeline review")


def test_review_and_invoice_refuse_an_existing_file_alike(shop, tmp_path):
    """One writer for both documents: the same refusal (exit 4) before any work, --force replaces."""
    shop("bill", "add", 6, "--item", "Licences", "--price", "6000")
    shop("bill", "invoice", 6)
    target = tmp_path / "taken.html"
    target.write_text("mine", encoding="utf-8")
    review = shop.fails(4, "review", "--format", "html", "--out", target)
    invoice = shop.fails(4, "invoice", "show", "INV-2026-0001", "--format", "html", "--out", target)
    assert review == invoice
    assert target.read_text(encoding="utf-8") == "mine"
    outcome = shop("invoice", "show", "INV-2026-0001", "--format", "md", "--out", target, "--force")
    assert f"wrote invoice INV-2026-0001 to {target}" in outcome.stderr
    assert "INV-2026-0001" in target.read_text(encoding="utf-8")


def test_the_table_shows_a_summary_then_each_section(shop):
    text = shop("review").stdout
    assert text.splitlines()[0].split() == ["period", "2026Q1"]
    for title in ("pipeline", "waterfall since 2026-03-03", "won since 2026-03-03", "lost since 2026-03-03",
                  "pushed since 2026-03-03", "overdue"):  # fmt: skip
        assert f"\n{title}\n" in text, title


def test_the_table_names_the_deals_assigned_to_no_one_as_the_attainment_report_does(shop):
    deal = next(deal for deal in exact(shop, "list") if deal["expected_close"] <= "2026-03-31")
    shop("unassign", deal["id"])
    section = shop("review").stdout.split("\nattainment\n")[1].split("\n\n")[0]
    report = shop("report", "attainment", "--period", "2026Q1").stdout
    assert "(none)" in report
    (review_row,) = [line for line in section.splitlines() if line.startswith("(none)")]
    (report_row,) = [line for line in report.splitlines() if line.startswith("(none)")]
    assert review_row.split()[:2] == report_row.split()[:2]  # the key and the won figure
    # The page, its chart and the Markdown name that row alike.
    page = shop("review", "--format", "html").stdout
    assert "<td>(none)</td>" in page and ">(none)</text>" in page and "unassigned" not in page
    assert "| (none) |" in shop("review", "--format", "md").stdout


def test_csv_has_a_row_per_stage_step_and_deal(shop):
    lines = shop("review", "--format", "csv").stdout.splitlines()
    assert lines[0] == "section,key,id,count,value,forecast,currency"
    sections = [line.split(",")[0] for line in lines[1:]]
    assert sections.count("pipeline") == 4 and sections.count("waterfall") == 11
    assert "won,Licences,6,,6000.00,,USD" in lines


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--since", "2026-03-11"), 2, "after today"),
        (("--since", "2026-02-30"), 2, "2026-02-30"),
        (("--period", "2026Q7"), 2, "2026Q7"),
        (("--assignee", "nobody"), 3, "no user 'nobody'"),
        (("--format", "json", "--out", "x.json"), 2, "--out goes with --format md or --format html"),
        (("--force",), 2, "--force goes with --out"),
        (("--format", "ids"), 2, "ids"),
        (("--currency", "XYZ"), 2, "XYZ"),
    ],
)
def test_bad_input_is_refused_in_one_line(shop, args, code, words):
    line = shop.fails(code, "review", *args)
    assert words in line, line


def test_deals_in_several_currencies_need_a_currency(shop):
    shop("create", "Euro deal", "--org", "Initech", "--value", "10", "--currency", "EUR")
    assert "--currency" in shop.fails(4, "review")
    shop("rate", "set", "EUR", "USD", "1.10", "--date", "2026-01-01")
    assert exact(shop, "review", "--currency", "USD")["currency"] == "USD"


# -- in a real browser ---------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
A4_WIDTH_PX = 794  # 210 mm at 96 px per inch


def _png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the image data (a blank page has ~2)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        length = struct.unpack(">I", data[offset : offset + 4])[0]
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels))


def _fetched_from_outside(netlog: Path) -> list[str]:
    """The http(s) addresses the page itself asked for, from Chromium's network log (Chromium's own
    background requests carry no file:// page as their network isolation key)."""
    events = json.loads(netlog.read_text(encoding="utf-8"))["events"]
    return sorted(
        {
            event["params"]["url"]
            for event in events
            if str(event.get("params", {}).get("url", "")).startswith(("http://", "https://"))
            and "file://" in str(event["params"].get("network_isolation_key", ""))
        }
    )


def _chromium(*args: str, scrollbars: bool = False) -> str:
    """Run headless Chromium; what it printed (``--dump-dom``'s page). Scrollbars are hidden unless
    asked for (a measure of a page's width counts them, as a person's window does)."""
    hidden = [] if scrollbars else ["--hide-scrollbars"]
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *hidden,
         "--no-first-run", "--disable-background-networking", "--disable-component-update", *args],
        check=True, capture_output=True, timeout=120, text=True,
    ).stdout  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_the_review_and_an_invoice_look_right_in_chromium(shop, tmp_path):
    page = tmp_path / "review.html"
    shop("review", "--format", "html", "--out", page)
    shop("bill", "add", 6, "--item", "Licences <2026>", "--price", "6000", "--tax", "25")
    shop("bill", "invoice", 6)
    invoice = tmp_path / "invoice.html"
    shop("invoice", "show", "INV-2026-0001", "--format", "html", "--out", invoice)
    control = tmp_path / "control.html"  # the network log does see what a page fetches
    control.write_text('<!DOCTYPE html><p>x</p><img src="http://127.0.0.1:9/x.png">', encoding="utf-8")
    _chromium(
        f"--log-net-log={tmp_path / 'control.json'}", f"--screenshot={tmp_path / 'c.png'}", control.as_uri()
    )
    assert _fetched_from_outside(tmp_path / "control.json") == ["http://127.0.0.1:9/x.png"]
    for html in (page, invoice):
        shot, pdf, netlog = html.with_suffix(".png"), html.with_suffix(".pdf"), html.with_suffix(".json")
        _chromium(
            f"--log-net-log={netlog}",
            f"--screenshot={shot}",
            f"--window-size={A4_WIDTH_PX},1800",
            html.as_uri(),
        )
        assert _fetched_from_outside(netlog) == []
        width, height, colours = _png_size_and_colours(shot)
        assert (width, height) == (A4_WIDTH_PX, 1800)
        assert shot.stat().st_size > 20_000 and colours > 50, "the screenshot is blank"
        _chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri())
        document = pdf.read_bytes()
        assert document.startswith(b"%PDF") and len(document) > 5_000
        boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", document)
        assert boxes and all(abs(float(w) - 595.9) < 2 and abs(float(h) - 842.9) < 2 for w, h in boxes), boxes


def test_the_forecast_and_attainment_sections_are_drawn_when_filled(shop, monkeypatch):
    """The sections that stand on forecast categories and quotas, as their commands give them."""
    from decimal import Decimal

    from opp.core.analytics import review

    def money(text: str) -> Decimal:
        return Decimal(text)

    forecast = {
        "currency": "USD",
        "groups": [
            {"key": "pipeline", "count": 2, "value": money("7000.00"), "forecast": money("1050.00")},
            {"key": "best-case", "count": 1, "value": money("15000.00"), "forecast": money("7500.00")},
            {"key": "commit", "count": 1, "value": money("8000.00"), "forecast": money("6000.00")},
            {"key": "closed", "count": 1, "value": money("6000.00"), "forecast": money("6000.00")},
            {"key": "omitted", "count": 0, "value": money("0.00"), "forecast": money("0.00")},
        ],
        "total": {"count": 5, "value": money("36000.00"), "forecast": money("20550.00")},
        "rollups": {
            "commit": money("12000.00"),
            "best_case": money("19500.00"),
            "pipeline": money("14550.00"),
        },
    }
    row = {"quota": money("20000.00"), "won": money("6000.00"), "attainment": money("0.3"),
           "gap": money("14000.00"), "open_value": money("30000.00"), "open_forecast": money("13550.00"),
           "coverage": money("2.1429"), "pace": money("0.3")}  # fmt: skip
    attainment = {
        "currency": "USD",
        "rows": [{"key": "dana", **row}, {"key": "<b>sam</b>", **row}],
        "total": row,
    }
    monkeypatch.setattr(review, "forecast_section", lambda *args, **kwargs: forecast)
    monkeypatch.setattr(review, "attainment_section", lambda *args, **kwargs: attainment)
    found = exact(shop, "review")
    assert found["forecast"]["rollups"] == {
        "commit": "12000.00",
        "best_case": "19500.00",
        "pipeline": "14550.00",
    }
    page = shop("review", "--format", "html").stdout
    assert page.count("<svg") == 3 and "Attainment per user" in page
    assert "Commit 12,000.00 · best case 19,500.00 · pipeline 14,550.00" in page
    assert "&lt;b&gt;sam&lt;/b&gt;" in page and "<b>sam" not in page
    assert "30.0%" in page and "2.14×" in page
    text = shop("review", "--format", "md").stdout
    assert "| best-case | 1 | 15,000.00 | 7,500.00 |" in text
    assert "| total | 20,000.00 | 6,000.00 | 30.0% | 14,000.00 | 30,000.00 | 2.14× | 30.0% |" in text
    assert "\\<b\\>sam\\</b\\>" in text
    csv = shop("review", "--format", "csv").stdout.splitlines()
    assert "forecast,commit,,1,8000.00,6000.00,USD" in csv
    table = shop("review").stdout
    assert "\nforecast by category\n" in table and "\nattainment\n" in table


def _sideways_overflow(chromium_page: Path, width: int, tmp_path: Path) -> int:
    """How many pixels ``chromium_page`` is wider than a window ``width`` pixels wide (0: nothing
    scrolls sideways), measured by a page of the test's own that holds it in a frame."""
    measure = tmp_path / f"measure-{width}.html"
    measure.write_text(
        f'<!DOCTYPE html><iframe id="f" src="{chromium_page.as_uri()}" style="width:{width}px;'
        'height:900px;border:0"></iframe><pre id="out">pending</pre><script>'
        "document.getElementById('f').addEventListener('load', function () {"
        " var page = this.contentDocument.documentElement;"
        " document.getElementById('out').textContent = 'overflow=' + (page.scrollWidth - page.clientWidth);"
        "});</script>",
        encoding="utf-8",
    )
    shown = _chromium(
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--dump-dom",
        measure.as_uri(),
        scrollbars=True,
    )
    found = re.search(r"overflow=(-?\d+)", shown)
    assert found, shown[-500:]
    return int(found.group(1))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_a_million_deals_sums_fit_the_window_and_a4_without_scrolling_sideways(shop, tmp_path, monkeypatch):
    """Sums in the billions, to the cent, in the review's cards and the eight columns of its attainment
    table, and on an invoice's lines: at a window of 900 pixels and at A4's width neither page scrolls
    sideways (a table of figures too wide for the window scrolls by itself)."""
    from decimal import Decimal

    from opp.core.analytics import review

    shop("create", "Everything", "--org", "Initech", "--value", "27823236885.08", "--close", "2026-03-25",
         OPP_NOW=day(8))  # fmt: skip
    row = {
        "quota": Decimal("3092349000.00"),
        "won": Decimal("3092349000.00"),
        "attainment": Decimal("1"),
        "gap": Decimal("-3092349000.00"),
        "open_value": Decimal("27823236885.08"),
        "open_forecast": Decimal("9776821949.24"),
        "coverage": Decimal("12.5"),
        "pace": Decimal("1"),
    }
    attainment = {"currency": "USD", "rows": [{"key": "jordanm", **row}], "total": row}
    monkeypatch.setattr(review, "attainment_section", lambda *args, **kwargs: attainment)
    page = tmp_path / "review.html"
    shop("review", "--format", "html", "--out", page)
    assert "27,823,2" in page.read_text(encoding="utf-8")
    shop("bill", "add", 6, "--item", "Licences for every seat", "--price", "27823236885.08", "--qty", "3",
         "--tax", "25")  # fmt: skip
    shop("bill", "invoice", 6)
    invoice = tmp_path / "invoice.html"
    shop("invoice", "show", "INV-2026-0001", "--format", "html", "--out", invoice)
    assert "104,337,138,319.05" in invoice.read_text(encoding="utf-8")
    for html in (page, invoice):
        for width in (900, A4_WIDTH_PX):
            assert _sideways_overflow(html, width, tmp_path) == 0, (html.name, width)
