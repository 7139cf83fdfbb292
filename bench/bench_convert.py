"""Conversion benchmark: ``feed convert`` of a synthetic SIS export, rows/s and peak memory.

Run: ``.venv/bin/python bench/bench_convert.py --rows 100000 1000000`` (``--join`` also converts
an HR export whose addresses come from a second file, joined on the employee ID). The students
export is converted as CSV, as JSON Lines and as a JSON array (``--formats csv jsonl json``
chooses), the same rows in each; the last column says whether the output is byte for byte the
CSV's. The exports are generated once and cached in ``bench/.cache/``. Each conversion runs in
a fresh Python process, which reports its own peak RSS (``resource.getrusage``), so the figures
of one size do not leak into the next: flat memory shows as the same peak at 100,000 and
1,000,000 rows. The mappings are the examples of docs/mappings/ (students.yaml, hr.toml; the
JSON cases read students.yaml with its format changed). Wall-clock rows/s depend on what else
the machine runs; rows per CPU second are the steadier figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
MAPPINGS = ROOT / "docs" / "mappings"

FIRST = ("Ada", "Ben", "Chloé", "Dmitri", "Eva", "Farah", "Gustav", "Hana", "Ivan", "Jun")
LAST = ("Abebe", "Berg", "Costa", "Dubois", "Müller", "Nakamura", "Okafor", "Petrov", "Rossi")
PROGRAMS = ("BA", "BS", "MA", "MS", "PHD")
FORMATS = ("csv", "jsonl", "json")
DEPARTMENTS = ("CSCI", "HIST", "ENGL", "MATH", "BIOL", "ECON", "PHIL")


def students_csv(rows: int) -> Path:
    """A students.csv-shaped export with `rows` students (cached)."""
    path = CACHE / f"students-{rows}.csv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = random.Random(rows)
    header = ["student_id", "net_id", "barcode", "first_name", "last_name", "preferred_first",
              "email", "personal_email", "phone", "program", "department", "birth_date",
              "street", "city", "state", "zip"]  # fmt: skip
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow([
                f"S{i:08d}", f"n{i:07d}", f"2{i:09d}", first, last, "",
                f"s{i}@example.edu", f"p{i}@example.org" if i % 2 else "",
                f"+1 555 {i % 1000:03d} {i % 10000:04d}", rng.choice(PROGRAMS),
                rng.choice(DEPARTMENTS), f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/"
                f"{rng.randint(1960, 2007)}", f"{rng.randint(1, 999)} College Ave", "Ithaca",
                "NY", "14850",
            ])  # fmt: skip
    tmp.rename(path)
    return path


def students_json(rows: int, fmt: str) -> Path:
    """The students CSV as JSON Lines (``jsonl``) or a JSON array (``json``), one object per
    line, an empty CSV value as null (cached)."""
    path = CACHE / f"students-{rows}.{fmt}"
    if path.exists():
        return path
    source = students_csv(rows)
    tmp = path.with_suffix(".tmp")
    with source.open(newline="", encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as fh:
        reader = csv.reader(src)
        header = next(reader)
        fh.write("[\n" if fmt == "json" else "")
        for number, record in enumerate(reader):
            if number and fmt == "json":
                fh.write(",\n")
            obj = {c: (v or None) for c, v in zip(header, record, strict=True)}
            fh.write(json.dumps(obj, ensure_ascii=False))
            fh.write("\n" if fmt == "jsonl" else "")
        fh.write("\n]\n" if fmt == "json" else "")
    tmp.rename(path)
    return path


def students_mapping(fmt: str) -> Path:
    """docs/mappings/students.yaml, reading `fmt` instead of CSV (written to the cache)."""
    text = (MAPPINGS / "students.yaml").read_text(encoding="utf-8")
    if fmt == "csv":
        return MAPPINGS / "students.yaml"
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"students-{fmt}.yaml"
    path.write_text(text.replace("format: csv ", f"format: {fmt} ", 1), encoding="utf-8")
    return path


def hr_files(rows: int) -> tuple[Path, Path]:
    """hr-people.csv and hr-addresses.csv shaped exports (1 to 3 addresses each; cached)."""
    people = CACHE / f"hr-people-{rows}.csv"
    addresses = CACHE / f"hr-addresses-{rows}.csv"
    if people.exists() and addresses.exists():
        return people, addresses
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = random.Random(rows + 1)
    with people.open("w", newline="", encoding="utf-8") as pf, \
            addresses.open("w", newline="", encoding="utf-8") as af:  # fmt: skip
        pw = csv.writer(pf, delimiter=";")
        aw = csv.writer(af)
        pw.writerow(["emplid", "badge", "given", "family", "job", "job_title", "dept", "email",
                     "work_phone", "end_date"])  # fmt: skip
        aw.writerow(["emplid", "type", "line1", "line2", "city", "state", "postcode", "country"])
        for i in range(rows):
            emplid = f"e{i:08d}"
            pw.writerow([emplid, f"B{i:08d}", rng.choice(FIRST), rng.choice(LAST),
                         rng.choice(("FAC", "STF", "LIB")), "Staff", "MATH", f"e{i}@example.edu",
                         "+1 555 300 0001", ""])  # fmt: skip
            for kind in ("HOME", "WORK", "CAMPUS")[: rng.randint(1, 3)]:
                aw.writerow([emplid, kind, f"{rng.randint(1, 999)} Main St", "", "Ithaca", "NY",
                             "14850", "USA"])  # fmt: skip
    return people, addresses


def measure(mapping: Path, inputs: list[Path], out: Path) -> dict:
    """Convert in a fresh process; its wall time, counts, peak RSS and the output's SHA-256.

    The output is hashed in the child, in blocks: a Linux child can inherit its parent's peak
    RSS (vfork), so the parent never holds an output in memory."""
    code = f"""
import hashlib, json, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from datetime import date
from patronsync.feeds.convert.mapping import mapping_load
from patronsync.feeds.convert.run import feed_convert
mapping = mapping_load({str(mapping)!r})
before = resource.getrusage(resource.RUSAGE_SELF)
cpu_before = before.ru_utime + before.ru_stime
start = time.perf_counter()
summary = feed_convert(mapping=mapping, inputs={[str(i) for i in inputs]!r}, output={str(out)!r},
                       today=date(2026, 9, 1))
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu_before
digest = hashlib.sha256()
with open({str(out)!r}, "rb") as fh:
    while block := fh.read(1 << 20):
        digest.update(block)
print(json.dumps({{"rows": summary.rows, "users": summary.users, "bad": summary.bad_rows,
                  "seconds": seconds, "cpu": cpu, "peak_mb": usage.ru_maxrss / 1024,
                  "sha256": digest.hexdigest()}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS),
                        help="the students export as CSV, JSON Lines, JSON array")  # fmt: skip
    parser.add_argument("--join", action="store_true", help="also the HR export with a join")
    args = parser.parse_args()
    print(f"{'export':<24}{'rows':>11}{'users':>11}{'wall s':>8}{'rows/s':>8}{'CPU s':>8}"
          f"{'rows/CPU s':>11}{'peak MB':>9}  as CSV")  # fmt: skip
    for rows in args.rows:
        cases = []
        for fmt in args.formats:
            data = students_csv(rows) if fmt == "csv" else students_json(rows, fmt)
            cases.append((data.name, students_mapping(fmt), [data]))
        if args.join:
            cases.append(("hr people + addresses", MAPPINGS / "hr.toml", list(hr_files(rows))))
        csv_digest = None
        for label, mapping, inputs in cases:
            out = CACHE / f"out-{rows}.xml"
            result = measure(mapping, inputs, out)
            digest = result["sha256"]
            same = ""
            if mapping.name == "students.yaml":
                csv_digest = digest
            elif csv_digest is not None and label.startswith("students"):
                same = "same" if digest == csv_digest else "DIFFERENT"
            rate = result["rows"] / result["seconds"]
            cpu_rate = result["rows"] / result["cpu"]
            print(f"{label:<24}{result['rows']:>11,}{result['users']:>11,}"
                  f"{result['seconds']:>8.1f}{rate:>8,.0f}{result['cpu']:>8.1f}{cpu_rate:>11,.0f}"
                  f"{result['peak_mb']:>9.0f}  {same}")  # fmt: skip
            if result["bad"]:
                print(f"  {result['bad']:,} bad rows")
            out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
