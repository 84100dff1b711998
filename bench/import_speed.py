"""Time ``opp import`` of N deals beside a plain ``executemany`` of the same rows, and ``opp export``.

    python bench/import_speed.py --rows 100000 [--runs 1] [--check] [--dir /tmp/oppimport]
    python bench/import_speed.py --rows 1000000 --runs 2 --check --export /tmp/oppimport/opp.db

1. Writes (once, kept in ``--dir``) a deterministic CSV of N deals in opp's own columns
   (:data:`opp.core.transfer.readers.COLUMNS`), drawn with ``bench/generate.py``'s customers, users, products,
   currencies and stage mix: Zipf-popular customers (N/5 of them, with their kind), 50 assignees by
   handle (10 % of deals unassigned), every deal with an external ref, a created_at instant, an
   expected close; 25 % won and 15 % lost with closed_at (and a lost reason on most lost ones); a
   description on 30 %, an explicit probability on 10 % of open deals.
2. Makes an empty, migrated opp database (``open_store``) once, and copies it for every run.
3. In each round runs, each as its own process (wall time, CPU time (user + system, its children's
   included) and its own peak RSS from GNU time), in rotating order so that load hits all alike:
   (a) ``opp --db COPY import FILE``, with ``OPP_NOW`` fixed and ``OPP_USER=bench``;
   (b) ``bench/import_baseline.py FILE COPY``: plain ``sqlite3`` ``executemany`` of the same rows into
       the same tables (see that file for exactly what it writes);
   (c) ``bench/import_baseline.py FILE COPY --plain``: the deals alone, one ``executemany`` into
       ``opportunities``.
   On a busy machine the wall time mostly measures the load; the CPU time is the steadier figure, and
   rows per CPU second are printed beside rows per second.
4. ``--check`` compares every table the two wrote (customers, users, commands, opportunities,
   history), row by row, after the first round: the baseline is checked to write what opp writes.
5. ``--export DB`` then runs ``opp --db DB export -f csv`` and ``-f jsonl`` into /dev/null, once each:
   time and peak RSS. The database is only read (its schema revision is checked read-only first, so
   that opp never migrates a shared file); ``--dir``'s ``opp.db``, what the last import wrote, will do.

Prints rows/s of each, the ratio opp / baseline, and the goals of the performance issue as ok / FAIL.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from datetime import date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import as_installed, compile_opp  # noqa: E402  (the runner's, beside this script)

PYTHON = sys.executable
OPP_NOW = "2026-07-01T00:00:00Z"  # generate.py's REFERENCE_NOW
ACTOR = "bench"
TABLES = ("customers", "users", "commands", "opportunities", "history")
GOAL_RATIO = 0.5  # opp import >= half the baseline's rows/s
GOAL_EXPORT_MB = 100
GOAL_MEMORY_MB = 150


def instant(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_csv(path: Path, rows: int, seed: int) -> None:
    """N deals in opp's columns, the same for the same N and seed; every cell in the form opp stores."""
    from generate import (
        CURRENCIES,
        HISTORY_START,
        LOST_REASONS,
        OPEN_STAGES,
        PRODUCT_WEIGHTS,
        PRODUCTS,
        REFERENCE_NOW,
        Generator,
    )

    from opp.core.transfer.readers import COLUMNS

    gen = Generator(rows, seed)
    rng = gen.rng
    kinds = {customer["id"]: customer["kind"] for customer in gen.customers}
    handles = [user["handle"] for user in gen.users]
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        # opp's own columns but the forecast category set by hand, which a generated deal does not have.
        writer.writerow([column for column in COLUMNS if column != "category"])
        for n in range(1, rows + 1):
            customer_id = gen.customer_by_rank[
                bisect_right(gen.customer_cum, rng.random() * gen.customer_cum[-1])
            ]
            code, _, places, per_usd = CURRENCIES[
                bisect_right(gen.currency_cum, rng.random() * gen.currency_cum[-1])
            ]
            usd = min(5_000_000.0, rng.lognormvariate(math.log(25_000), 1.1))
            value_minor = max(100, round(usd * per_usd * 10**places))
            value = str(value_minor) if places == 0 else f"{value_minor // 100}.{value_minor % 100:02d}"
            product = PRODUCTS[bisect_right(PRODUCT_WEIGHTS, rng.random() * PRODUCT_WEIGHTS[-1])]
            owner = (
                bisect_right(gen.user_cum, rng.random() * gen.user_cum[-1]) if rng.random() < 0.9 else None
            )
            roll = rng.random()
            probability = ""
            closed_at = lost_reason = ""
            if roll < 0.60:
                stage, chance = OPEN_STAGES[min(3, int(rng.random() ** 1.5 * 4))]
                if rng.random() < 0.1:
                    probability = str(min(95, max(5, chance + rng.choice([-10, -5, 5, 10]))))
                close = date(2025, 10, 1) + timedelta(days=rng.randint(0, 638))
                created = HISTORY_START + timedelta(seconds=rng.randint(0, 60_000_000))
            else:
                stage = "closed-won" if roll < 0.85 else "closed-lost"
                closed = datetime(2025, 1, 1) + timedelta(seconds=rng.randint(0, 46_000_000))
                created = closed - timedelta(seconds=rng.randint(86_400, 200 * 86_400))
                close = (closed + timedelta(days=rng.randint(-30, 30))).date()
                closed_at = instant(closed)
                if stage == "closed-lost":
                    lost_reason = rng.choice(LOST_REASONS) or ""
            assert created < REFERENCE_NOW
            writer.writerow([
                f"{gen.customer_name[customer_id]} - {product}",
                gen.customer_name[customer_id],
                kinds[customer_id],
                value,
                code,
                stage,
                probability,
                close.isoformat(),
                f"CRM-{n:08d}",
                handles[owner] if owner is not None else "",
                f"{product} for {rng.randint(5, 500)} seats" if rng.random() < 0.3 else "",
                instant(created),
                closed_at,
                lost_reason,
            ])  # fmt: skip
    tmp.replace(path)


def empty_database(path: Path) -> None:
    from opp.store.engine import open_store

    open_store(str(path)).close()


def fresh_copy(template: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, target)


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """One process: wall seconds, its own peak RSS in KiB and CPU seconds (user and system, its waited-for
    children's included: GNU time's); a failure stops the benchmark.

    The peak comes from GNU time (``/usr/bin/time -f %M``) when there is one: the ``ru_maxrss`` that
    ``os.wait4`` reports for a direct child counts the pages of this (larger) process it was forked
    from, before its exec.
    """
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as peak:
        command = [timer, "-f", "%M", "-o", peak.name, *argv] if timer else argv
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"{' '.join(argv)} failed: {err.read().decode(errors='replace')[-2000:]}")
        peak_kb = int(peak.read().split()[-1]) if timer else usage.ru_maxrss
    return elapsed, peak_kb, usage.ru_utime + usage.ru_stime


def environment() -> dict[str, str]:
    env = {k: v for k, v in as_installed(dict(os.environ)).items() if not k.startswith("OPP_")}
    env.update(OPP_NOW=OPP_NOW, OPP_USER=ACTOR)
    return env


def table_digests(db: Path) -> dict[str, tuple[int, str]]:
    """Rows and a digest of every row of each table, in id order. A ``created`` event's snapshot is
    taken as the JSON object it is: opp's database writes it without spaces, the baseline's
    ``json.dumps`` with them."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    digests = {}
    for table in TABLES:
        digest, count = hashlib.sha256(), 0
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id")
        names = [column[0] for column in cursor.description]
        for row in cursor:
            if table == "history" and row[names.index("action")] == "created":
                at = names.index("new")
                snapshot = json.dumps(json.loads(row[at]), sort_keys=True)
                row = (*row[:at], snapshot, *row[at + 1 :])
            digest.update(repr(row).encode())
            count += 1
        digests[table] = (count, digest.hexdigest())
    conn.close()
    return digests


def schema_revision(db: str) -> str | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


def measure_export(db: str, opp: str) -> dict[str, dict[str, float]]:
    from opp.store.engine import HEAD

    revision = schema_revision(db)
    if revision != HEAD:
        message = f"{db} is at schema {revision}, not {HEAD}: opp would migrate it or refuse it"
        sys.exit(message + "; give a database at this opp's schema, such as --dir's opp.db")
    deals = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("SELECT count(*) FROM opportunities")
    count = deals.fetchone()[0]
    results = {}
    for fmt in ("csv", "jsonl"):
        seconds, peak_kb, _cpu = run_once([opp, "--db", db, "export", "-f", fmt], environment())
        results[fmt] = {"seconds": seconds, "peak_mb": peak_kb / 1024, "deals": count}
        print(
            f"export -f {fmt:<5} {figures(f'{count:,}', count, seconds, peak_kb / 1024, 'deals')}", flush=True
        )
    return results


def figures(
    who: str, rows: int, seconds: float, peak_mb: float, unit: str = "rows", cpu: float | None = None
) -> str:
    text = f"{who:<8} {seconds:7.1f} s  {rows / seconds:>9,.0f} {unit}/s  peak {peak_mb:6.1f} MB"
    if cpu is not None:
        text += f"  cpu {cpu:6.1f} s  {rows / cpu:>9,.0f} {unit}/cpu-s"
    return text


def verdict(ok: bool, text: str) -> None:
    print(f"- {'ok  ' if ok else 'FAIL'} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="rounds of opp and baseline (default 1)")
    parser.add_argument("--dir", default="/tmp/oppimport", help="where the CSV and the databases go")
    parser.add_argument("--check", action="store_true", help="compare the tables opp and the baseline wrote")
    parser.add_argument("--export", metavar="DB", help="also time opp export of this (SQLite) database")
    parser.add_argument("--opp", help="the opp executable (default: the one beside this python)")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()

    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    compile_opp()
    opp = args.opp or str(Path(PYTHON).with_name("opp"))
    source = work / f"deals-{args.rows}-s{args.seed}.csv"
    if not source.exists():
        started = time.perf_counter()
        write_csv(source, args.rows, args.seed)
        size, took = source.stat().st_size / 2**20, time.perf_counter() - started
        print(f"wrote {source} ({size:.0f} MiB) in {took:.0f} s")
    template = work / "empty.db"
    if not template.exists():
        empty_database(template)
    opp_db, base_db = work / "opp.db", work / "baseline.db"
    opp_argv = [opp, "--db", str(opp_db), "import", str(source), "-o", "json"]
    base_argv = [PYTHON, str(HERE / "import_baseline.py"), str(source), str(base_db)]
    base_argv += ["--now", OPP_NOW, "--actor", ACTOR]
    plain_db = work / "plain.db"
    argvs = {"opp": opp_argv, "baseline": base_argv, "plain": [*base_argv[:2], str(source), str(plain_db)]}
    argvs["plain"] += [*base_argv[4:], "--plain"]
    targets = {"opp": opp_db, "baseline": base_db, "plain": plain_db}

    samples: dict[str, list[tuple[float, int, float]]] = {"opp": [], "baseline": [], "plain": []}
    whos = list(samples)
    for round_number in range(args.runs):
        shift = round_number % len(whos)
        for who in whos[shift:] + whos[:shift]:
            fresh_copy(template, targets[who])
            seconds, peak_kb, cpu = run_once(argvs[who], environment())
            samples[who].append((seconds, peak_kb, cpu))
            line = figures(who, args.rows, seconds, peak_kb / 1024, cpu=cpu)
            print(f"round {round_number + 1}: {line}  (load {os.getloadavg()[0]:.1f})", flush=True)
        if args.check and round_number == 0:
            mine, theirs = table_digests(opp_db), table_digests(base_db)
            for table in TABLES:
                (count, _), (other, _) = mine[table], theirs[table]
                same = "same" if mine[table] == theirs[table] else "DIFFERENT"
                print(f"check {table:<14} opp {count:>9,} rows, baseline {other:>9,}: {same}")
            if mine != theirs:
                sys.exit("the baseline does not write what opp writes")

    medians = {
        who: (
            statistics.median(s for s, _, _ in runs),
            max(kb for _, kb, _ in runs) / 1024,
            statistics.median(c for _, _, c in runs),
        )
        for who, runs in samples.items()
    }
    opp_s, opp_peak, opp_cpu = medians["opp"]
    base_s, _base_peak, base_cpu = medians["baseline"]
    ratio = (args.rows / opp_s) / (args.rows / base_s)
    results: dict[str, object] = {"rows": args.rows, "csv_mb": source.stat().st_size / 2**20}
    for who, (seconds, peak_mb, cpu) in medians.items():
        results[who] = {
            "seconds": seconds,
            "rows_per_s": args.rows / seconds,
            "cpu_seconds": cpu,
            "rows_per_cpu_s": args.rows / cpu,
            "peak_mb": peak_mb,
            "runs": samples[who],
        }
    results["ratio"] = ratio
    results["cpu_ratio"] = base_cpu / opp_cpu
    results["loadavg"] = os.getloadavg()
    print()
    print(f"import of {args.rows:,} rows (median of {args.runs}), load average now {os.getloadavg()}:")
    for who, (seconds, peak_mb, cpu) in medians.items():
        print("  " + figures(who, args.rows, seconds, peak_mb, cpu=cpu))
    print(f"  ratio (opp rows/s / baseline rows/s): {ratio:.2f}; per CPU second: {base_cpu / opp_cpu:.2f}")
    verdict(ratio >= GOAL_RATIO, f"import >= {GOAL_RATIO} x the baseline's rows/s: {ratio:.2f}")
    verdict(opp_peak <= GOAL_MEMORY_MB, f"import peak <= {GOAL_MEMORY_MB} MB: {opp_peak:.1f}")
    if args.export:
        print()
        exports = measure_export(args.export, opp)
        results["export"] = exports
        for fmt, export in exports.items():
            peak = export["peak_mb"]
            verdict(peak <= GOAL_EXPORT_MB, f"export -f {fmt} peak <= {GOAL_EXPORT_MB} MB: {peak:.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
