"""Time opp's commands as whole processes beside a plain-Python script asking the same question.

    python bench/run.py --db BIG.db [--small SMALL.db] [--runs 5] [--check] [--out results.json]
    python bench/run.py --db postgresql://opp:opp@127.0.0.1/bench_1m --small postgresql://.../bench_10k

Every case runs once to warm up, then ``--runs`` times, opp and its baseline (and, with ``--small``,
both again on the small database) taking turns, so that a change in the machine's load hits them alike.
Each run is one process, started here and reaped with ``os.wait4``: its wall time, and its own peak
resident set size (``ru_maxrss`` of that one child). opp's output goes to /dev/null.

The printed table gives, per case, the median (min–max) of opp and of the baseline, their ratio, and with
``--small`` the growth ratio (opp_big − opp_small) / (base_big − base_small): how much more opp's time
grows with the data than the plain script's does. ``--check`` first compares opp's JSON answers with the
baseline's, so that "the same query" is checked, not assumed. The goals of the benchmark issue are
marked ok / FAIL under the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from baseline import RARE_WORD  # noqa: E402  (the baseline's script, beside this one)

PYTHON = sys.executable
OPP_NOW = "2026-07-01T00:00:00Z"  # bench/generate.py's REFERENCE_NOW
HEAVY = ("sqlalchemy", "alembic", "tabulate", "dateutil")
GOAL_STARTUP = 1.5  # --version, --help, completion against `python -c "import typer"`
GOAL_FLOOR = 1.3  # a command on an up-to-date (small) database against the floor app
GOAL_REVIEW = 4.0  # the weekly review's commands on the given database against the floor app (issue 16)
GOAL_GROWTH = 1.5  # opp's growth from the small to the big database against the baseline's growth
GOAL_MEMORY_MB = 150


#: The baseline of the weekly review's cases: the floor app, run in alternation with the case (its
#: ratio then compares runs of the same minutes, not the floor app's own minute of the run with the
#: case's, which on a host whose speed drifts moved the verdict by a third).
FLOOR_APP = "floor-app"


@dataclass
class Case:
    name: str
    opp: list[str]  # arguments to opp (or the whole command for the floors)
    # bench/baseline.py CASE, "typer" for the import floor, FLOOR_APP for the floor app run beside it,
    # None for none
    baseline: str | None
    db: bool = True  # reads the database
    env: dict[str, str] = field(default_factory=dict)
    raw: bool = False  # ``opp`` is a whole command, not arguments to opp


@dataclass
class Sample:
    times: list[float] = field(default_factory=list)
    peak_kb: int = 0

    def add(self, seconds: float, peak_kb: int) -> None:
        self.times.append(seconds)
        self.peak_kb = max(self.peak_kb, peak_kb)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def summary(self) -> dict[str, float]:
        return {
            "median": self.median,
            "min": min(self.times),
            "max": max(self.times),
            "peak_mb": self.peak_kb / 1024,
            "runs": len(self.times),
        }


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """One process: wall seconds and its own peak RSS in KiB; a failure stops the benchmark."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            sys.exit(
                f"{' '.join(argv)} exited {process.returncode}: {err.read().decode(errors='replace')[-2000:]}"
            )
    return elapsed, usage.ru_maxrss


def opp_binary(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(PYTHON).with_name("opp")
    return str(beside) if beside.exists() else "opp"


def is_url(db: str) -> bool:
    return "://" in db


def pick_parameters(db: str) -> dict[str, str]:
    """The assignee with the most proposal deals, and a deal id in the middle of the ids."""
    if is_url(db):
        import psycopg

        conn = psycopg.connect(db.replace("postgresql+psycopg://", "postgresql://"))
    else:
        conn = sqlite3.connect(db)
    cur = conn.cursor()
    cur.execute(
        "SELECT u.handle FROM opportunities o JOIN users u ON u.id = o.assignee_id "
        "WHERE o.stage = 'proposal' GROUP BY u.handle ORDER BY count(*) DESC, u.handle LIMIT 1"
    )
    handle = cur.fetchone()[0]
    cur.execute("SELECT max(id) FROM opportunities")
    top = cur.fetchone()[0]
    # The acting user of agenda and task list --mine: the generator's bench rep (the same 60 tasks at
    # every size), or in a database generated before it existed, the busiest proposal assignee.
    cur.execute("SELECT handle FROM users WHERE handle = 'bench-rep'")
    rep = cur.fetchone()
    conn.close()
    return {"assignee": handle, "top": str(top), "me": rep[0] if rep else handle}


def cases(params: dict[str, str], search: str, show_id: str) -> list[Case]:
    typer_floor = [PYTHON, "-c", "import typer"]
    completion = {"_OPP_COMPLETE": "complete_bash", "COMP_WORDS": "opp fore", "COMP_CWORD": "1"}
    return [
        Case("startup floor: python -c 'import typer'", typer_floor, None, db=False, raw=True),
        Case("opp --version", ["--version"], "typer", db=False),
        Case("opp --help", ["--help"], "typer", db=False),
        Case("completion (opp fore<TAB>)", [], "typer", db=False, env=completion),
        Case("floor app (Typer + SQLAlchemy + 1 query)", floor_app_command("{db}"), None, raw=True),
        Case(
            "forecast --by stage --currency USD",
            ["forecast", "--by", "stage", "--currency", "USD"],
            "forecast-stage",
        ),
        Case(
            "forecast --period 2026Q4 --currency USD",
            ["forecast", "--period", "2026Q4", "--currency", "USD"],
            "forecast-period",
        ),
        Case("pipeline --currency USD", ["pipeline", "--currency", "USD"], "pipeline"),
        Case("report win-rate", ["report", "win-rate"], "win-rate"),
        Case(
            f"list --stage proposal --assignee {params['assignee']} --limit 50",
            ["list", "--stage", "proposal", "--assignee", params["assignee"], "--limit", "50"],
            "list-filter",
        ),
        Case(
            f"list --search {search} --limit 50", ["list", "--search", search, "--limit", "50"], "list-search"
        ),
        Case(
            "list --search (a word no deal has) --limit 50",
            ["list", "--search", RARE_WORD, "--limit", "50"],
            "list-search-rare",
        ),
        Case(f"show {show_id}", ["show", show_id], "show"),
        # Custom fields against the same question on a built-in column (CUSTOM_PAIRS).
        Case("list --stage proposal --limit 50", ["list", "--stage", "proposal", "--limit", "50"], None),
        Case(
            "list --where region=EMEA --limit 50", ["list", "--where", "region=EMEA", "--limit", "50"], None
        ),
        Case(
            "forecast --by region --currency USD", ["forecast", "--by", "region", "--currency", "USD"], None
        ),
        # A built-in grouping that also reads another table per deal (the assignee's handle in users).
        Case(
            "forecast --by assignee --currency USD",
            ["forecast", "--by", "assignee", "--currency", "USD"],
            None,
        ),
    ]


def floor_app_command(db: str) -> list[str]:
    return [PYTHON, str(HERE / "floor_app.py"), db]


def around_deal_cases(params: dict[str, str]) -> list[Case]:
    """The work around a deal, the weekly review (opp issues 14 and 16): no plain-SQL baseline; their
    figures are the growth from the small database and the ratio to the floor app (the review's run
    beside it, :data:`FLOOR_APP`). The acting user
    (``OPP_USER``) for agenda and task list --mine is the generator's ``bench-rep``, whose tasks are the
    same at every size (the busiest proposal assignee in a database without it, whose tasks grow with
    the data)."""
    me = {"OPP_USER": params["me"]}
    window = ["--from", "2026-06-01", "--to", "2026-07-01", "--period", "2026Q3"]
    return [
        Case("work: agenda", ["agenda"], None, env=me),
        Case("work: task list --mine", ["task", "list", "--mine"], None, env=me),
        Case("work: list --without-task --limit 50", ["list", "--without-task", "--limit", "50"], None),
        Case(f"work: timeline {params['show_id']}", ["timeline", params["show_id"]], None),
        Case(
            "review: report waterfall --from 2026-06-01 --to 2026-07-01 --period 2026Q3 --currency USD",
            ["report", "waterfall", *window, "--currency", "USD"],
            FLOOR_APP,
        ),
        Case(
            "review: report attainment --period 2026Q3 --currency USD",
            ["report", "attainment", "--period", "2026Q3", "--currency", "USD"],
            FLOOR_APP,
        ),
        Case("review: report pushes", ["report", "pushes"], FLOOR_APP),
        Case("review: review --currency USD", ["review", "--currency", "USD"], FLOOR_APP),
        Case(
            "review: review -f html --currency USD", ["review", "-f", "html", "--currency", "USD"], FLOOR_APP
        ),
    ]


#: (custom field case, built-in case): the first may grow from the small to the big database no more
#: than GOAL_GROWTH times the second. A field's value is a row of its own (field_values), so grouping by
#: it is a look-up per deal: set beside the stage, a column of the deal's own, and beside the assignee,
#: a built-in grouping that also looks each deal's assignee up in another table.
CUSTOM_PAIRS = (
    ("list --where region=EMEA --limit 50", "list --stage proposal --limit 50"),
    ("forecast --by region --currency USD", "forecast --by stage --currency USD"),
    ("forecast --by region --currency USD", "forecast --by assignee --currency USD"),
)


def commands(case: Case, db: str, opp: str, params: dict[str, str]) -> tuple[list[str], list[str] | None]:
    main = [part.replace("{db}", db) for part in case.opp] if case.raw else [opp, *case.opp]
    if case.baseline is None:
        return main, None
    if case.baseline == "typer":
        return main, [PYTHON, "-c", "import typer"]
    if case.baseline == FLOOR_APP:
        return main, floor_app_command(db)
    extra = ["--assignee", params["assignee"], "--search", params["search"], "--id", params["show_id"]]
    return main, [PYTHON, str(HERE / "baseline.py"), case.baseline, db, "--today", OPP_NOW[:10], *extra]


def as_installed(env: dict[str, str]) -> dict[str, str]:
    """``env`` for opp as a user runs it: its modules' bytecode is compiled once and read from then
    on, as after ``pip install``. A shell that sets ``PYTHONDONTWRITEBYTECODE`` (some containers do)
    would otherwise have every run of an editable install compile opp's sources again: 50 ms more
    for ``--version`` and 300 ms for a command, which are not opp's."""
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_opp() -> None:
    """Compile opp's modules to bytecode before timing (see :func:`as_installed`)."""
    import compileall

    import opp

    compileall.compile_dir(Path(opp.__file__).parent, quiet=1)


def environment(db: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in as_installed(dict(os.environ)).items() if not k.startswith("OPP_")}
    env.pop("_OPP_COMPLETE", None)
    env.update(OPP_DB=db, OPP_NOW=OPP_NOW, OPP_USER="bench", COLUMNS="120")
    env.update(extra)  # a case may act as another user
    return env


# -- checking that the baseline answers the same question ---------------------------------------------


def _minor(amount: Decimal) -> int:
    return int(amount * 100)  # the answers are in USD


def normalized_opp(case: str, answer: object) -> object:
    if case in ("forecast-stage", "forecast-period", "pipeline"):
        groups = answer["groups"] if "groups" in answer else answer["stages"]
        rows = [
            [g.get("key", g.get("stage")), g["count"], _minor(g["value"]), _minor(g["forecast"])]
            for g in groups
        ]
        total = answer["total"]
        return {"groups": rows, "total": [total["count"], _minor(total["value"]), _minor(total["forecast"])]}
    if case == "win-rate":
        rate = answer["win_rate"]
        return {"won": answer["won"], "lost": answer["lost"], "win_rate": None if rate is None else str(rate)}
    if case in ("list-filter", "list-search", "list-search-rare"):
        return [deal["id"] for deal in answer]
    if case == "show":
        billing = answer.get("billing") or {}
        return {
            "id": answer["id"],
            "events": [event["id"] for event in answer["history"]],
            "lines": billing.get("lines", 0),
        }
    raise ValueError(case)


def check(db: str, opp: str, all_cases: list[Case], params: dict[str, str]) -> list[str]:
    problems = []
    for case in all_cases:
        if case.baseline in (None, "typer", FLOOR_APP):
            continue
        main, base = commands(case, db, opp, params)
        env = environment(db, case.env)
        mine = subprocess.run(
            [*main, "--format", "json"], env=env, capture_output=True, text=True, check=True
        )
        theirs = subprocess.run([*base, "--json"], capture_output=True, text=True, check=True)
        got = normalized_opp(case.baseline, json.loads(mine.stdout, parse_float=Decimal))
        want = json.loads(theirs.stdout)
        if json.loads(json.dumps(got, default=str)) != want:
            problems.append(f"{case.name}: opp {got} != baseline {want}")
    return problems


# -- start-up imports ----------------------------------------------------------------------------------


def import_profile(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Which heavy packages an opp invocation imports, and its ten costliest top-level imports."""
    code = f"import sys; sys.argv = {['opp', *argv]!r}; from opp.cli.main import run; run()"
    result = subprocess.run([PYTHON, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True)
    cumulative: dict[str, int] = {}
    loaded = set()
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not match:
            continue
        module = match.group(4)
        loaded.add(module.split(".")[0])
        if len(match.group(3)) <= 1:  # a top-level import (not nested inside another)
            cumulative[module] = max(cumulative.get(module, 0), int(match.group(2)))
    top = sorted(cumulative.items(), key=lambda item: -item[1])[:10]
    return {"heavy": sorted(loaded & set(HEAVY)), "top_ms": [(name, round(us / 1000, 1)) for name, us in top]}


# -- machine -------------------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
        "load_average_start": os.getloadavg(),
    }


# -- the run -------------------------------------------------------------------------------------------


def measure(all_cases: list[Case], dbs: list[str], opp: str, runs: int, params: dict[str, str]) -> dict:
    """{case name: {db: {"opp": Sample, "base": Sample}}}, the runs of every pair interleaved."""
    results: dict[str, dict[str, dict[str, Sample]]] = {}
    for case in all_cases:
        plan = []
        for db in dbs if case.db else dbs[:1]:
            main, base = commands(case, db, opp, params)
            env = environment(db, case.env)
            plan.append((db, "opp", main, env))
            if base is not None:
                plan.append((db, "base", base, env))
        per_db: dict[str, dict[str, Sample]] = {}
        for _db, _who, argv, env in plan:  # warm-up: page cache, .pyc files
            run_once(argv, env)
        for _ in range(runs):
            for db, who, argv, env in plan:
                per_db.setdefault(db, {}).setdefault(who, Sample()).add(*run_once(argv, env))
        results[case.name] = per_db
        print(
            f"  {case.name}: "
            + ", ".join(
                f"{who} {sample.median * 1000:.0f} ms" for db in per_db for who, sample in per_db[db].items()
            ),
            file=sys.stderr,
            flush=True,
        )
    return results


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def spread(sample: Sample) -> str:
    return f"{ms(sample.median)} ({ms(min(sample.times))}–{ms(max(sample.times))})"


def report(all_cases: list[Case], results: dict, big: str, small: str | None) -> tuple[str, list[str], dict]:
    floor_typer = results[all_cases[0].name][big]["opp"].median
    # By name: with --only the cases chosen are fewer, and the floor app is not always the fifth.
    floor_app_case = next(case.name for case in all_cases if case.name.startswith("floor app"))
    floor_app = {db: s["opp"].median for db, s in results[floor_app_case].items()}
    head = "| case | opp ms median (min–max) | baseline ms median (min–max) | ratio | peak MB |"
    rule = "|---|---:|---:|---:|---:|"
    if small:
        head += " opp small ms | baseline small ms | growth ratio |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    verdicts: list[str] = []
    table: dict[str, dict] = {}
    peaks: dict[str, float] = {}
    for case in all_cases:
        big_s = results[case.name][big]
        mine, base = big_s["opp"], big_s.get("base")
        ratio = mine.median / base.median if base else None
        row = (
            f"| `{case.name}` | {spread(mine)} | {spread(base) if base else '—'} | "
            f"{f'{ratio:.2f}' if ratio else '—'} | {mine.peak_kb / 1024:.0f} |"
        )
        entry = {"opp": mine.summary(), "baseline": base.summary() if base else None, "ratio": ratio}
        growth = None
        if small:
            if case.db and small in results[case.name]:
                small_s = results[case.name][small]
                s_mine, s_base = small_s["opp"], small_s.get("base")
                entry.update(opp_small=s_mine.summary(), baseline_small=s_base.summary() if s_base else None)
                if s_base and case.baseline != FLOOR_APP:  # the floor app does not grow with the data
                    denominator = base.median - s_base.median
                    numerator = mine.median - s_mine.median
                    growth = numerator / denominator if denominator > 0.005 else None
                    grow = (
                        f"{growth:.2f}"
                        if growth is not None
                        else f"n/a (+{ms(numerator)} vs +{ms(denominator)} ms)"
                    )
                else:
                    grow = "—"
                row += f" {spread(s_mine)} | {spread(s_base) if s_base else '—'} | {grow} |"
            else:
                row += " — | — | — |"
        entry["growth"] = growth
        table[case.name] = entry
        lines.append(row)
        # The goals.
        if case.baseline == "typer":
            verdicts.append(
                _verdict(
                    f"{case.name} ≤ {GOAL_STARTUP}× import typer", mine.median / floor_typer, GOAL_STARTUP
                )
            )
        elif case.baseline == FLOOR_APP:  # the floor app as it ran beside the case
            verdicts.append(
                _verdict(f"{case.name} ≤ {GOAL_REVIEW}× floor app on the given database", ratio, GOAL_REVIEW)
            )
        elif case.baseline is not None:
            reference_db = small or big
            against = results[case.name][reference_db]["opp"].median / floor_app[reference_db]
            verdicts.append(
                _verdict(
                    f"{case.name} on the {'small' if small else 'given'} database ≤ {GOAL_FLOOR}× floor app",
                    against,
                    GOAL_FLOOR,
                )
            )
            if small:
                if growth is None:
                    numerator = mine.median - results[case.name][small]["opp"].median
                    verdicts.append(
                        f"{'ok  ' if numerator < 0.05 else 'FAIL'} {case.name}: growth ≤ {GOAL_GROWTH}× "
                        f"baseline's (baseline did not grow; opp grew {ms(numerator)} ms)"
                    )
                else:
                    verdicts.append(
                        _verdict(f"{case.name}: growth ≤ {GOAL_GROWTH}× baseline's", growth, GOAL_GROWTH)
                    )
        if not case.raw:
            peaks[case.name] = mine.peak_kb / 1024
    if small:
        for custom, builtin in CUSTOM_PAIRS:
            if custom not in results or builtin not in results:  # not chosen with --only
                continue
            grew = {
                name: results[name][big]["opp"].median - results[name][small]["opp"].median
                for name in (custom, builtin)
            }
            if grew[builtin] > 0.005:
                verdicts.append(
                    _verdict(
                        f"{custom}: growth ≤ {GOAL_GROWTH}× {builtin}'s",
                        grew[custom] / grew[builtin],
                        GOAL_GROWTH,
                    )
                )
            else:
                verdicts.append(
                    f"{'ok  ' if grew[custom] < 0.05 else 'FAIL'} {custom}: growth ≤ {GOAL_GROWTH}× "
                    f"{builtin}'s ({builtin} did not grow; {custom} grew {ms(grew[custom])} ms)"
                )
    worst = max(peaks, key=peaks.__getitem__)
    verdicts.append(
        _verdict(
            f"peak memory of every command ≤ {GOAL_MEMORY_MB} MB (largest: {worst}, MB)",
            peaks[worst],
            GOAL_MEMORY_MB,
        )
    )
    return "\n".join(lines), verdicts, table


def _verdict(what: str, value: float, limit: float) -> str:
    return f"{'ok  ' if value <= limit else 'FAIL'} {what}: {value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the database to time (path or PostgreSQL URL)")
    parser.add_argument("--small", help="a small database of the same generator, for growth ratios")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", help="write every figure as JSON here")
    parser.add_argument(
        "--check", action="store_true", help="first compare opp's answers with the baseline's"
    )
    parser.add_argument("--opp", help="the opp executable (default: the one beside this Python)")
    parser.add_argument("--search", default="migration", help="the word for list --search")
    parser.add_argument("--only", help="run only the cases whose name contains this text (or one of A,B,...)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    opp = opp_binary(args.opp)
    dbs = [args.db] + ([args.small] if args.small else [])
    params = pick_parameters(args.db)
    # A deal present in both databases, from the middle of the smaller one.
    params["show_id"] = str(int(pick_parameters(args.small)["top"] if args.small else params["top"]) // 2)
    params["search"] = args.search
    all_cases = cases(params, args.search, params["show_id"]) + around_deal_cases(params)
    info = machine()
    print(f"machine: {info}", file=sys.stderr)
    compile_opp()
    if args.check:
        for db in dbs:
            problems = check(db, opp, all_cases, params)
            if problems:
                sys.exit("baseline and opp disagree on " + db + ":\n" + "\n".join(problems))
        print("check: opp and the baseline give the same answers", file=sys.stderr)
    chosen = all_cases
    if args.only:
        keep = {all_cases[0].name, all_cases[4].name}
        wanted = [part.strip() for part in args.only.split(",") if part.strip()]  # several: A,B
        chosen = [
            case for case in all_cases if any(part in case.name for part in wanted) or case.name in keep
        ]
    profiles = {
        name: import_profile(argv, environment(args.db, env))
        for name, argv, env in (
            ("--version", ["--version"], {}),
            ("--help", ["--help"], {}),
            (
                "completion",
                [],
                {"_OPP_COMPLETE": "complete_bash", "COMP_WORDS": "opp fore", "COMP_CWORD": "1"},
            ),
            ("report win-rate", ["report", "win-rate"], {}),
        )
    }
    started = time.perf_counter()
    results = measure(chosen, dbs, opp, args.runs, params)
    info["load_average_end"] = os.getloadavg()
    info["seconds"] = round(time.perf_counter() - started, 1)
    table, verdicts, figures = report(chosen, results, args.db, args.small)
    print(
        f"\n{args.runs} runs after a warm-up; times in ms; database {args.db}"
        + (f", small database {args.small}" if args.small else "")
    )
    print(table)
    print()
    for name, profile in profiles.items():
        heavy = ", ".join(profile["heavy"]) or "none"
        if name != "report win-rate":
            verdicts.append(
                f"{'ok  ' if not profile['heavy'] else 'FAIL'} {name} imports none of "
                f"{', '.join(HEAVY)} (imports: {heavy})"
            )
    print("\n".join(verdicts))
    print("\nbiggest top-level imports (cumulative ms, python -X importtime, one run):")
    for name, profile in profiles.items():
        print(f"  {name}: " + ", ".join(f"{module} {cost}" for module, cost in profile["top_ms"][:6]))
    print(f"\nload average {info['load_average_start']} → {info['load_average_end']}; {info['seconds']} s")
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {
                    "machine": info,
                    "db": args.db,
                    "small": args.small,
                    "runs": args.runs,
                    "params": params,
                    "cases": figures,
                    "verdicts": verdicts,
                    "imports": profiles,
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
