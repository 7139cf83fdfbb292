"""Parsing benchmark: the bare iterparse floor against patronsync's raw and full readers.

Run: ``.venv/bin/python bench/bench_parse.py --users 100000 1000000``. Feeds are generated once
and cached in ``bench/.cache/``. Each measurement runs in a fresh Python process, which reports
its own peak RSS, so the figures do not leak into one another.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zipfile
from hashlib import blake2b
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"


def _floor(path: Path) -> int:
    """Unzip + iterparse + blake2b of each <user> (tostring without tail) + clear."""
    from lxml import etree

    count = 0
    with zipfile.ZipFile(path) as zf:
        for name in sorted(n for n in zf.namelist() if n.endswith(".xml")):
            with zf.open(name) as stream:
                for _, elem in etree.iterparse(stream, events=("end",), tag="user"):
                    blake2b(etree.tostring(elem, with_tail=False), digest_size=16).hexdigest()
                    elem.clear(keep_tail=False)
                    parent = elem.getparent()
                    while elem.getprevious() is not None:
                        del parent[0]
                    count += 1
    return count


def _raw(path: Path) -> int:
    from patronsync.almaxml import iter_raw_users

    reader = iter_raw_users(path)
    count = sum(1 for _ in reader)
    assert not reader.problems, reader.problems
    return count


def _full(path: Path) -> int:
    from patronsync.almaxml import iter_users

    reader = iter_users(path)
    count = sum(1 for _ in reader)
    assert not reader.problems, reader.problems
    return count


MEASURES = {"floor": _floor, "raw": _raw, "full": _full}


def _child(kind: str, path: Path) -> None:
    import resource

    start = time.perf_counter()
    count = MEASURES[kind](path)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": count, "wall": wall, "peak_mb": peak_kb / 1024}))


def _measure(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def _feed(users: int) -> Path:
    from patronsync.feeds.sample import write_sample_feed

    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"feed_{users}.zip"
    if not path.exists():
        start = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        write_sample_feed(tmp, users, seed=1)
        tmp.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def main() -> None:
    """Generate (or reuse) the feeds, then measure floor, raw path and full parse for each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[100_000])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    sys.path.insert(0, str(ROOT))
    for users in args.users:
        path = _feed(users)
        size = path.stat().st_size / 1024**2
        print(f"\n{users:,} users ({size:.0f} MB zipped)")
        print(f"{'measure':<8} {'users/s':>10} {'wall s':>8} {'peak MB':>8} {'x floor':>8}")
        floor_wall = 0.0
        for kind in MEASURES:
            r = _measure(kind, path)
            assert r["count"] == users, r
            floor_wall = floor_wall or r["wall"]
            print(
                f"{kind:<8} {r['count'] / r['wall']:>10,.0f} {r['wall']:>8.1f} "
                f"{r['peak_mb']:>8.0f} {r['wall'] / floor_wall:>8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.path.insert(0, str(ROOT))
    main()
