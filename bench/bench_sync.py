"""Sync-engine benchmark: a first Import, then the next day's Synchronize, on SQLite and PG.

Run: ``.venv/bin/python bench/bench_sync.py`` (100,000 and 1,000,000 users, SQLite and
PostgreSQL; ``--users``, ``--databases`` and ``--match-id-type UNIV_ID`` narrow or vary it;
``--guard off`` turns the mass-change guard off, so each job reads its feed once instead of
planning it first).

For each size it generates (once, cached in ``bench/.cache/``) a day-1 feed of realistic users and
a day-2 feed of the same population with 1 % of users changed and 0.1 % added. For each database
it runs, each in a fresh process that reports its own peak RSS:

1. the floor: bare lxml iterparse plus blake2b of every ``<user>`` of the day-2 feed;
2. ``patronsync run BENCH --import`` on the day-1 feed, into an empty database;
3. ``patronsync run BENCH --synchronize`` on the day-2 feed.

It prints users/s, wall time, peak memory (the job's process, and its reading process: peak RSS,
which counts pages a forked reader shares with the job, and the sampled peak unique set size,
what each holds of its own) and the ratio to the floor. PostgreSQL is reached at ``PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); a database named ``patronsync_bench`` is
dropped and created there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
PG_URL = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DB = "patronsync_bench"


def feeds(users: int) -> tuple[Path, Path]:
    """The day-1 and day-2 feeds for `users` users, generated once."""
    sys.path.insert(0, str(ROOT))
    from patronsync.feeds.sample import write_sample_feed

    CACHE.mkdir(exist_ok=True)
    day1, day2 = CACHE / f"sync-{users}-day1.zip", CACHE / f"sync-{users}-day2.zip"
    if not day1.exists():
        write_sample_feed(day1, users, seed=1, users_per_file=50_000)
    if not day2.exists():
        write_sample_feed(
            day2, users, seed=2, base_seed=1, changed_fraction=0.01, added_fraction=0.001,
            users_per_file=50_000,
        )  # fmt: skip
    return day1, day2


def child_floor(path: str) -> None:
    """In a child process: the bare parsing floor over `path`; prints count and peak RSS."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_parse import _floor

    count = _floor(Path(path))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"users": count, "peak_mb": peak}))


def _uss_mb(pid: int | str) -> float:
    """A process's unique set size (its private pages, none it shares), in MB; 0 when gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            private = sum(int(line.split()[1]) for line in rollup if line.startswith("Private_"))
    except (OSError, ValueError, IndexError):
        return 0.0
    return private / 1024


class UssSampler(threading.Thread):
    """Samples the unique set size of this process and of its children (the reading
    processes a job forks) every SAMPLE_SECONDS; keeps the peak of each."""

    SAMPLE_SECONDS = 2.0

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.job_peak = self.helper_peak = 0.0
        self.done = threading.Event()

    def _children(self) -> list[str]:
        pids: list[str] = []
        for task in Path("/proc/self/task").iterdir():
            try:
                pids += (task / "children").read_text().split()
            except OSError:
                continue
        return pids

    def run(self) -> None:
        while not self.done.wait(self.SAMPLE_SECONDS):
            self.job_peak = max(self.job_peak, _uss_mb("self"))
            for pid in self._children():
                self.helper_peak = max(self.helper_peak, _uss_mb(pid))


def child_run(kind: str) -> None:
    """In a child process: run the BENCH profile's job; prints the report and peak memory."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from patronsync.jobs.selectors import job_report
    from patronsync.jobs.services import profile_run
    from patronsync.profiles.models import IntegrationProfile

    profile = IntegrationProfile.objects.get(code="BENCH")
    sampler = UssSampler()
    sampler.start()
    job = profile_run(profile=profile, kind=kind)
    sampler.done.set()
    sampler.join()
    report = job_report(job=job)
    report.pop("rejected_users")
    report["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The reading process the job forks (and joins): the largest child's peak RSS, which counts
    # the pages it still shares with the job's process too.
    report["reader_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # Unique set sizes, sampled: what each process holds of its own.
    report["job_uss_mb"], report["reader_uss_mb"] = sampler.job_peak, sampler.helper_peak
    print(json.dumps(report, default=str))


def _child(args: list[str], env: dict[str, str]) -> tuple[dict, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def _match_setting(match_id_type: str) -> str:
    """`match_id_type: X`, or for a comma-separated list the ordered match keys."""
    if "," in match_id_type:
        return f"match_id_types: [{match_id_type}]"
    return f"match_id_type: {match_id_type}"


def _prepare(
    database: str,
    data_dir: Path,
    drop: Path,
    match_id_type: str,
    leavers: bool = False,
    guard: bool = True,
) -> dict[str, str]:
    env = {
        **os.environ,
        "PATRONSYNC_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        # The drop folder is the one place the benchmark's local connection may read.
        "PATRONSYNC_LOCAL_ROOTS": f"*={drop}",
    }
    env.pop("DATABASE_URL", None)
    if database == "postgresql":
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
            conn.execute(f"CREATE DATABASE {BENCH_DB}")
        env["DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"
    patronsync = str(Path(sys.executable).parent / "patronsync")
    subprocess.run([patronsync, "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    config = data_dir / "bench.yaml"
    config.write_text(
        f"connections:\n  - name: bench\n    type: local\n    path: {drop}\n"
        "profiles:\n  - code: BENCH\n    name: Benchmark\n    connection: bench\n"
        "    system: Benchmark SIS\n    import: {active: true, input_path: import}\n"
        f"    synchronize: {{active: true, input_path: synchronize, "
        f"{_match_setting(match_id_type)}, unmatched: ADD"
        # --leavers: the feed is a complete snapshot, its missing users counted and expired
        + (", leavers: {complete_snapshot: true, expire_after_runs: 3}" if leavers else "")
        # --guard off: no plan pass (the mass-change guard is on by default, as users run it)
        + ("" if guard else ", guard: {enabled: false}")
        + "}\n"
    )
    subprocess.run([patronsync, "config", "apply", str(config)], env=env, cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    return env


def bench(
    users: int, database: str, match_id_type: str, leavers: bool = False, guard: bool = True
) -> None:
    day1, day2 = feeds(users)
    work = Path(tempfile.mkdtemp(prefix="patronsync-bench-"))
    try:
        drop = work / "drop"
        for folder in ("import", "synchronize"):
            (drop / folder).mkdir(parents=True)
        env = _prepare(database, work / "var", drop, match_id_type, leavers, guard)
        floor, floor_wall = _child(["floor", str(day2)], env)
        print(f"{users:>9,} {database:<10} floor       {floor['users'] / floor_wall:>9,.0f} users/s"
              f" {floor_wall:>7.1f} s {floor['peak_mb']:>6.0f} MB")  # fmt: skip
        for kind, feed, folder in (
            ("import", day1, "import"),
            ("synchronize", day2, "synchronize"),
        ):
            shutil.copy(feed, drop / folder / feed.name)
            report, wall = _child(["run", kind], env)
            processed = report["total_users_processed"]
            counts = "/".join(
                str(report[k]) for k in ("created", "updated", "unchanged", "rejected")
            )
            print(f"{users:>9,} {database:<10} {kind:<11} {processed / wall:>9,.0f} users/s"
                  f" {wall:>7.1f} s {report['peak_mb']:>6.0f} MB"
                  f" (reader {report['reader_peak_mb']:.0f} MB; USS job"
                  f" {report['job_uss_mb']:.0f} MB, reader {report['reader_uss_mb']:.0f} MB)"
                  f"  {wall / floor_wall:>5.2f}x floor"
                  f"  created/updated/unchanged/rejected {counts}  {report['status']}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        if sys.argv[2] == "floor":
            child_floor(sys.argv[3])
        else:
            child_run(sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--match-id-type", default="PRIMARY_ID",
        help="what the Synchronize matches on: PRIMARY_ID or an identifier type (UNIV_ID), "
        "or ordered match keys, comma-separated (UNIV_ID,PRIMARY_ID)",
    )  # fmt: skip
    parser.add_argument(
        "--leavers", action="store_true",
        help="the profile's feed is a complete snapshot (synchronize.leavers): measures the "
        "leavers rule's cost",
    )  # fmt: skip
    parser.add_argument(
        "--guard", choices=["on", "off"], default="on",
        help="the mass-change guard (default on, as users run it: each job plans its whole "
        "feed, then applies it; off: one pass)",
    )  # fmt: skip
    args = parser.parse_args()
    print(f"mass-change guard {args.guard}")
    print(f"{'users':>9} {'database':<10} {'step':<11} {'rate':>15} {'wall':>9} {'peak':>9}")
    for users in args.users:
        for database in args.databases:
            bench(users, database, args.match_id_type, args.leavers, args.guard == "on")


if __name__ == "__main__":
    main()
