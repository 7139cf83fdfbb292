"""Worker benchmark: the same Synchronize jobs run by the embedded worker and by Celery workers.

Run: ``.venv/bin/python bench/bench_workers.py`` (100,000 users; PostgreSQL and SQLite). Flags:
``--users`` (default 100,000), ``--profiles`` (default 10), ``--databases postgresql,sqlite``,
``--broker redis://127.0.0.1:6379/0`` (Celery's broker; the bench uses a queue of its own there).

Two set-ups, each imported once (day-1 feeds) and then copied before every run, so that every
run starts from the same database (PostgreSQL: ``CREATE DATABASE ... TEMPLATE``, after a
``VACUUM ANALYZE`` of the imported database; SQLite: a copy of the file):

1. **One profile**: a Synchronize of the day-2 feed of `--users` users (1 % changed, 0.1 %
   added; bench_sync's cached feed ``bench/.cache/sync-N-day2.zip``), run by one embedded
   ``patronsync worker --once`` process, then by one Celery worker (``celery -A config worker
   --concurrency 1``, PostgreSQL only).
2. **Many profiles at once**: `--profiles` profiles, each with its own folders and
   ``--users / --profiles`` users of its own (disjoint primary IDs, barcodes and university IDs:
   feeds ``bench/.cache/workers-N-pK-day{1,2}.zip``). The Synchronize jobs of all profiles are
   started together with ``job_start``, then run by one embedded worker, two embedded workers,
   and (PostgreSQL only) two Celery workers of concurrency 1.

Times are taken from the first ``job_start``: "wait" until the job's ``started_at``, "run" its
own started-to-finished time, "end" until its ``finished_at``, "seen" until the bench's poll of
the Job row (every 50 ms) saw it ended. An embedded ``--once`` worker is started right after the
jobs are, so its wait counts the worker process's start; the Celery workers are started, and
ready, before. Every run checks that each job completed with the expected counters, was tried
once (``attempts`` 1), has one Synchronize job per profile, recorded no user twice, and that the
user store holds exactly the expected users; all worker processes are ended, and ``ps`` checked.

PostgreSQL is reached at ``PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``);
the databases ``h6bench``, ``h6bench_one`` and ``h6bench_many`` are dropped and created there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
PG_URL = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN_DB = "h6bench"
BIN = Path(sys.executable).parent
CHANGED, ADDED = 0.01, 0.001
# The per-profile feeds: one population, each profile its own range of user numbers; the added
# users of every profile come from a range far above all of them.
MANY_SEED, MANY_CHANGE_SEED, ADDED_START = 3, 4, 50_000_000
QUEUE = f"h6bench-{os.getpid()}"  # the bench's own Celery queue on the broker
ENDED = ("completed", "completed_with_errors", "failed", "errored", "cancelled")


# Feeds and the counters they should give.


def changed_count(start: int, n: int, change_seed: int) -> int:
    """How many of users `start`..`start + n - 1` the day-2 feed changes (as generate_users)."""
    return sum(
        random.Random(change_seed * 104_729 + index).random() < CHANGED
        for index in range(start, start + n)
    )


@dataclass
class Feed:
    code: str
    day1: Path
    day2: Path
    expected: dict[str, int]  # created, updated, unchanged, rejected of the Synchronize


def one_feed(users: int) -> Feed:
    """bench_sync's day-1 and day-2 feeds of `users` users (generated once, cached)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_sync import feeds

    day1, day2 = feeds(users)
    changed = changed_count(0, users, change_seed=2)
    expected = {
        "created": round(users * ADDED), "updated": changed, "unchanged": users - changed,
        "rejected": 0,
    }  # fmt: skip
    return Feed("BENCH", day1, day2, expected)


def _write_zip(path: Path, users: Any, count: int) -> None:
    from patronsync.almaxml.writer import write_users

    partial = path.with_suffix(".part")
    with (
        zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=3) as zf,
        zf.open("users_001.xml", "w", force_zip64=True) as entry,
    ):
        write_users(users, entry, total_record_count=count)
    partial.rename(path)


def many_feeds(users: int, profiles: int) -> list[Feed]:
    """Per profile, a day-1 and a day-2 feed of `users` users of its own (cached)."""
    sys.path.insert(0, str(ROOT))
    from itertools import chain

    from patronsync.feeds.sample import generate_users

    CACHE.mkdir(exist_ok=True)
    added = round(users * ADDED)
    result = []
    for number in range(profiles):
        start = number * users
        day1 = CACHE / f"workers-{users}-p{number}-day1.zip"
        day2 = CACHE / f"workers-{users}-p{number}-day2.zip"
        if not day1.exists():
            _write_zip(day1, generate_users(users, seed=MANY_SEED, start=start), users)
        if not day2.exists():
            stream = chain(
                generate_users(
                    users, seed=MANY_SEED, start=start, changed_fraction=CHANGED,
                    change_seed=MANY_CHANGE_SEED,
                ),
                generate_users(added, seed=MANY_SEED, start=ADDED_START + number * users),
            )  # fmt: skip
            _write_zip(day2, stream, users + added)
        changed = changed_count(start, users, MANY_CHANGE_SEED)
        expected = {
            "created": added, "updated": changed, "unchanged": users - changed, "rejected": 0,
        }  # fmt: skip
        result.append(Feed(f"W{number + 1:02d}", day1, day2, expected))
    return result


# Children: fresh processes with Django.


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()


def child_import(codes: list[str]) -> None:
    """Run each profile's Import here, one after the other; prints the time of each."""
    _django()
    from patronsync.jobs.services import profile_run
    from patronsync.profiles.models import IntegrationProfile

    out = {}
    for code in codes:
        start = time.perf_counter()
        job = profile_run(profile=IntegrationProfile.objects.get(code=code), kind="import")
        out[code] = {
            "status": job.status, "created": job.created, "rejected": job.rejected,
            "seconds": time.perf_counter() - start,
        }  # fmt: skip
    print(json.dumps(out))


def child_start(codes: list[str]) -> None:
    """Start every profile's Synchronize with job_start, say so, then poll the Job rows until
    all have ended; prints what the checks need."""
    _django()
    from patronsync.jobs.models import Job, JobRecord
    from patronsync.jobs.services import job_start
    from patronsync.patrons.models import Patron
    from patronsync.profiles.models import IntegrationProfile

    profiles = [IntegrationProfile.objects.get(code=code) for code in codes]
    t0 = time.time()
    ids = [job_start(profile=profile, kind="synchronize").id for profile in profiles]
    print(json.dumps({"t0": t0, "sent": time.time() - t0}), flush=True)
    seen: dict[int, float] = {}
    while len(seen) < len(ids):
        waiting = [job_id for job_id in ids if job_id not in seen]
        for job_id in Job.objects.filter(id__in=waiting, status__in=ENDED).values_list(
            "id", flat=True
        ):
            seen[job_id] = time.time() - t0
        time.sleep(0.05)
    jobs = []
    for job in Job.objects.filter(id__in=ids).select_related("profile").order_by("id"):
        records = JobRecord.objects.filter(job=job)
        jobs.append({
            "id": job.id, "code": job.profile.code, "status": job.status, "worker": job.worker,
            "attempts": job.attempts, "created": job.created, "updated": job.updated,
            "unchanged": job.unchanged, "rejected": job.rejected,
            "processed": job.total_records_processed,
            "records": records.count(),
            "record_users": records.values("primary_id").distinct().count(),
            "syncs_of_profile": Job.objects.filter(
                profile=job.profile, kind="synchronize"
            ).count(),
            "wait": job.started_at.timestamp() - t0 if job.started_at else float("nan"),
            "run": job.run_time if job.started_at else float("nan"),
            "end": job.finished_at.timestamp() - t0 if job.finished_at else float("nan"),
            "seen": seen[job.id],
        })  # fmt: skip
    print(json.dumps({"jobs": jobs, "patrons": Patron.objects.count()}), flush=True)


# The driver.


@dataclass
class Setup:
    """One database, its profiles imported, ready to be copied before each run."""

    database: str
    feeds: list[Feed]
    work: Path
    env: dict[str, str] = field(default_factory=dict)
    template: str = ""  # PostgreSQL: the imported database the runs are copied from

    @property
    def drop(self) -> Path:
        return self.work / "drop"

    def folder(self, feed: Feed, section: str) -> Path:
        return self.drop / feed.code / section


def _pg(sql: str, database: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + f"/{database}", autocommit=True) as conn:
        conn.execute(sql)


def _pg_url(database: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + f"/{database}"


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{what} failed ({' '.join(args)}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return done.stdout


def _sqlite_copy(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def setup(database: str, feeds: list[Feed], name: str, root: Path) -> Setup:
    """A fresh database with the feeds' profiles, their day-1 feeds imported."""
    s = Setup(database, feeds, root / name)
    (s.work / "var").mkdir(parents=True)
    s.env = {
        **os.environ,
        "PATRONSYNC_DATA_DIR": str(s.work / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "PATRONSYNC_LOCAL_ROOTS": f"*={s.drop}",
        "PYTHONUNBUFFERED": "1",
    }
    for key in ("DATABASE_URL", "PATRONSYNC_BROKER_URL", "PATRONSYNC_CELERY_QUEUE"):
        s.env.pop(key, None)
    if database == "postgresql":
        s.template = f"{RUN_DB}_{name}"
        _pg(f"DROP DATABASE IF EXISTS {s.template}")
        _pg(f"CREATE DATABASE {s.template}")
        s.env["DATABASE_URL"] = _pg_url(s.template)
    lines = [f"connections:\n  - name: bench\n    type: local\n    path: {s.drop}\nprofiles:"]
    for feed in feeds:
        for section in ("import", "synchronize"):
            s.folder(feed, section).mkdir(parents=True)
        shutil.copy(feed.day1, s.folder(feed, "import") / feed.day1.name)
        lines.append(
            f"  - code: {feed.code}\n    name: Benchmark {feed.code}\n    connection: bench\n"
            f"    system: Benchmark SIS\n"
            f"    import: {{active: true, input_path: {feed.code}/import}}\n"
            f"    synchronize: {{active: true, input_path: {feed.code}/synchronize, "
            "match_id_type: PRIMARY_ID, unmatched: ADD}"
        )
    config = s.work / "bench.yaml"
    config.write_text("\n".join(lines) + "\n")
    _run([str(BIN / "patronsync"), "migrate", "-v0"], s.env, "migrate")
    _run([str(BIN / "patronsync"), "config", "apply", str(config)], s.env, "config apply")
    start = time.perf_counter()
    out = _run(
        [sys.executable, __file__, "--child", "import", *(f.code for f in feeds)], s.env, "import"
    )
    wall = time.perf_counter() - start
    imports = json.loads(out.strip().splitlines()[-1])
    bad = {code: r for code, r in imports.items() if r["status"] != "completed" or r["rejected"]}
    if bad:
        raise SystemExit(f"{database}: the day-1 Import did not complete cleanly: {bad}")
    users = sum(r["created"] for r in imports.values())
    print(f"{database:<10} set-up: {len(feeds)} profile(s), Import of {users:,} users in "
          f"{wall:.1f} s (one process, one profile after the other)")  # fmt: skip
    if database == "postgresql":
        _pg("VACUUM ANALYZE", s.template)
        s.env["DATABASE_URL"] = _pg_url(RUN_DB)
    else:
        _sqlite_copy(s.work / "var" / "patronsync.sqlite3", s.work / "imported.sqlite3")
    return s


def restore(s: Setup) -> None:
    """The database as imported, and each profile's day-2 feed in its Synchronize folder."""
    if s.database == "postgresql":
        _pg(f"DROP DATABASE IF EXISTS {RUN_DB}")
        _pg(f"CREATE DATABASE {RUN_DB} TEMPLATE {s.template} STRATEGY FILE_COPY")
    else:
        live = s.work / "var" / "patronsync.sqlite3"
        for extra in ("-wal", "-shm"):
            Path(f"{live}{extra}").unlink(missing_ok=True)
        _sqlite_copy(s.work / "imported.sqlite3", live)
    for feed in s.feeds:
        folder = s.folder(feed, "synchronize")
        shutil.rmtree(folder)
        folder.mkdir()
        shutil.copy(feed.day2, folder / feed.day2.name)


class Workers:
    """The worker processes of one run, each in a process group of its own (its pool
    processes and its jobs' reading processes with it), all ended by `stop`."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.groups: list[int] = []

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.groups) + 1}-{time.time():.0f}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.procs.append((proc, log))
        self.groups.append(proc.pid)
        return proc

    def wait_ready(self, marker: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for proc, log in self.procs:
            while marker not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker not ready:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)

    def died(self) -> str:
        for proc, log in self.procs:
            if proc.poll() is not None and proc.returncode:
                return f"worker exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        return ""

    def all_exited(self) -> bool:
        return all(proc.poll() is not None for proc, _ in self.procs)

    def stop(self, grace: float = 30) -> None:
        """SIGTERM (a Celery worker's warm shutdown), then SIGKILL what is left of each group."""
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc, _ in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        for group in self.groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        for proc, _ in self.procs:
            proc.wait()

    def leftovers(self) -> list[str]:
        ps = subprocess.run(
            ["ps", "-eo", "pid=,pgid=,args="], capture_output=True, text=True, check=True
        ).stdout  # fmt: skip
        return [line for line in ps.splitlines() if int(line.split()[1]) in self.groups]


def broker_clean(broker: str, queue: str) -> None:
    """Remove the bench's own queue from the broker (shared with others: nothing else)."""
    if broker.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()
    else:
        from kombu import Connection

        with Connection(broker) as conn:
            conn.default_channel.queue_delete(queue)
            conn.default_channel.exchange_delete(queue)


def run_jobs(s: Setup, kind: str, count: int, broker: str, logs: Path) -> dict[str, Any]:
    """Start every profile's Synchronize at once, have `count` workers of `kind` run them."""
    restore(s)
    env = dict(s.env)
    if kind == "celery":
        env["PATRONSYNC_BROKER_URL"] = broker
        env["PATRONSYNC_CELERY_QUEUE"] = QUEUE
    workers = Workers(logs)
    try:
        if kind == "celery":
            for number in range(1, count + 1):
                workers.start(
                    [str(BIN / "celery"), "-A", "config", "worker", "--concurrency", "1",
                     "-n", f"h6bench{number}@%h", "--loglevel", "INFO"],
                    env,
                )  # fmt: skip
            workers.wait_ready(" ready.")
        starter = subprocess.Popen(
            [sys.executable, __file__, "--child", "start", *(f.code for f in s.feeds)],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert starter.stdout is not None
        assert starter.stderr is not None
        first = starter.stdout.readline()
        if not first:
            raise RuntimeError(f"job_start failed:\n{starter.stderr.read()[-3000:]}")
        started = json.loads(first)
        if kind == "embedded":
            for _ in range(count):
                workers.start([str(BIN / "patronsync"), "worker", "--once"], env)
        idle_since = None
        while starter.poll() is None:
            if problem := workers.died():
                starter.kill()
                raise RuntimeError(problem)
            if kind == "embedded" and workers.all_exited():
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 30:
                    starter.kill()
                    raise RuntimeError("the embedded workers ended, jobs did not")
            time.sleep(0.2)
        out, err = starter.communicate()
        if starter.returncode:
            raise RuntimeError(f"the poll of the jobs failed:\n{err[-3000:]}")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        result["sent"] = started["sent"]
    finally:
        workers.stop()
    result["leftovers"] = workers.leftovers()
    return result


def checks(s: Setup, result: dict[str, Any]) -> list[str]:
    """What is wrong with a run, in plain words (nothing: all is as expected)."""
    problems = []
    by_code = {feed.code: feed for feed in s.feeds}
    codes = [job["code"] for job in result["jobs"]]
    if sorted(codes) != sorted(by_code):
        problems.append(f"one job per profile expected, got {codes}")
    for job in result["jobs"]:
        want = by_code[job["code"]].expected
        got = {key: job[key] for key in want}
        total = sum(want.values())
        changed = want["created"] + want["updated"] + want["rejected"]
        for wrong, what in (
            (job["status"] != "completed", f"status {job['status']}"),
            (got != want, f"counters {got}, expected {want}"),
            (job["attempts"] != 1, f"attempts {job['attempts']}"),
            (job["syncs_of_profile"] != 1, f"{job['syncs_of_profile']} Synchronize jobs"),
            (job["processed"] != total, f"{job['processed']} records processed of {total}"),
            (job["records"] != changed, f"{job['records']} report rows, expected {changed}"),
            (job["record_users"] != job["records"], "a user recorded twice"),
        ):
            if wrong:
                problems.append(f"job {job['id']} ({job['code']}): {what}")
    users = sum(f.expected["created"] + f.expected["updated"] + f.expected["unchanged"]
                for f in s.feeds)  # fmt: skip
    if result["patrons"] != users:
        problems.append(f"{result['patrons']:,} users in the store, expected {users:,}")
    if result["leftovers"]:
        problems.append(f"processes left: {result['leftovers']}")
    return problems


def report(s: Setup, title: str, kind: str, count: int, result: dict[str, Any]) -> list[Any]:
    jobs = result["jobs"]
    wall = max(job["seen"] for job in jobs)
    users = sum(job["processed"] for job in jobs)
    # A job's worker is "host:pid#claim": the process is what precedes the "#".
    per_process: dict[str, int] = {}
    for job in jobs:
        process = job["worker"].split("#")[0]
        per_process[process] = per_process.get(process, 0) + 1
    label = f"{kind} x{count}"
    print(
        f"\n{s.database} · {title} · {label}: {wall:.1f} s from job_start to the last job seen "
        f"ended ({users / wall:,.0f} users/s); job_start of {len(jobs)} job(s) "
        f"{result['sent'] * 1000:.0f} ms; run by {len(per_process)} worker "
        f"process(es) ({', '.join(f'{p}: {n}' for p, n in sorted(per_process.items()))})"
    )
    print(f"  {'job':>5} {'profile':<7} {'worker':<24} {'wait':>6} {'run':>6} {'end':>6} "
          f"{'seen':>6}  created/updated/unchanged/rejected  tries  status")  # fmt: skip
    for job in jobs:
        counts = "/".join(str(job[k]) for k in ("created", "updated", "unchanged", "rejected"))
        print(f"  {job['id']:>5} {job['code']:<7} {job['worker']:<24} {job['wait']:>6.1f} "
              f"{job['run']:>6.1f} {job['end']:>6.1f} {job['seen']:>6.1f}  {counts:<34} "
              f"{job['attempts']:>5}  {job['status']}")  # fmt: skip
    problems = checks(s, result)
    print("  checks: " + ("; ".join(problems) if problems else (
        "all completed with the expected counters, 1 try each, 1 Synchronize job per profile, "
        "no user recorded twice, the user store as expected, no worker process left"
    )))  # fmt: skip
    runs = [job["run"] for job in jobs]
    busy = max(job["end"] for job in jobs) - min(job["wait"] for job in jobs)
    return [s.database, title, label, wall, busy, users / wall, sum(runs) / len(runs), not problems]


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        {"import": child_import, "start": child_start}[sys.argv[2]](sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=10)
    parser.add_argument("--databases", default="postgresql,sqlite",
                        help="comma-separated: postgresql (or postgres), sqlite")  # fmt: skip
    parser.add_argument(
        "--broker", default="redis://127.0.0.1:6379/0",
        help="Celery's broker (the bench uses a queue of its own there)",
    )  # fmt: skip
    args = parser.parse_args()
    databases = [
        "postgresql" if name.strip() == "postgres" else name.strip()
        for name in args.databases.split(",")
    ]
    per_profile = args.users // args.profiles
    print(f"Feeds: {args.users:,} users for one profile; {args.profiles} profiles of "
          f"{per_profile:,} users; day 2: {CHANGED:.0%} changed, {ADDED:.1%} added")  # fmt: skip
    one, many = [one_feed(args.users)], many_feeds(per_profile, args.profiles)
    root = Path(tempfile.mkdtemp(prefix="h6bench-workers-"))
    logs = root / "logs"
    logs.mkdir()
    rows: list[list[Any]] = []
    try:
        for database in databases:
            celery = [("celery", 1)] if database == "postgresql" else []
            plans = [
                ("one", one, f"1 profile x {args.users:,}", [("embedded", 1), *celery]),
                (
                    "many", many, f"{args.profiles} profiles x {per_profile:,}",
                    [("embedded", 1), ("embedded", 2), *(("celery", 2) for _ in celery)],
                ),
            ]  # fmt: skip
            for name, feeds, title, runs in plans:
                s = setup(database, feeds, name, root / database)
                for kind, count in runs:
                    try:
                        result = run_jobs(s, kind, count, args.broker, logs)
                    except RuntimeError as exc:
                        print(f"\n{database} · {title} · {kind} x{count}: FAILED: {exc}")
                        nan = float("nan")
                        rows.append([database, title, f"{kind} x{count}", *[nan] * 4, False])
                        continue
                    rows.append(report(s, title, kind, count, result))
    finally:
        for name in ("one", "many", ""):
            if "postgresql" in databases:
                _pg(f"DROP DATABASE IF EXISTS {RUN_DB}{'_' if name else ''}{name}")
        shutil.rmtree(root, ignore_errors=True)
        if "postgresql" in databases:
            broker_clean(args.broker, QUEUE)
    print("\nwall: from the first job_start to the last job seen ended; busy: from the first job"
          " started to the last ended; job run: a job's own time, on average")  # fmt: skip
    print(f"{'database':<10} {'jobs':<22} {'workers':<11} {'wall':>7} {'busy':>7} {'users/s':>9} "
          f"{'job run':>8}  checks")  # fmt: skip
    for database, title, label, wall, busy, rate, run, ok in rows:
        if wall != wall:  # NaN: the run failed, its error is printed above
            print(f"{database:<10} {title:<22} {label:<11} {'-':>7} {'-':>7} {'-':>9} {'-':>8}"
                  "  FAILED")  # fmt: skip
            continue
        print(f"{database:<10} {title:<22} {label:<11} {wall:>6.1f}s {busy:>6.1f}s {rate:>9,.0f} "
              f"{run:>7.1f}s  {'ok' if ok else 'FAILED'}")  # fmt: skip


if __name__ == "__main__":
    main()
