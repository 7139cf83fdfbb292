"""The example mappings of docs/mappings/: each converts its sample export into XML that validates
strictly against rest_users.xsd, and the sync engine then loads that XML with the expected
counts (and a second run of the same file changes nothing)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from patronsync.feeds.commands import main
from patronsync.feeds.validate import feed_validate
from patronsync.jobs.services import profile_run
from patronsync.patrons.models import Patron

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "mappings"
TODAY = "2026-09-01"

# (mapping, inputs, users)
CASES = [
    ("students.yaml", ["students.csv"], 8),
    ("hr.toml", ["hr-people.csv", "hr-addresses.csv"], 5),
    ("hr.toml", ["hr-people.csv"], 5),  # the join's file from the mapping
    ("registry.yaml", ["registry.json"], 3),
]


def drop_zip(xml: Path, target: Path) -> None:
    """Put a converted file where the profile reads it, zipped as an SIS delivers it."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(xml, "users.xml")


def convert(tmp_path: Path, mapping: str, inputs: list[str], name: str = "out.xml") -> Path:
    out = tmp_path / name
    args = ["feed", "convert", "--mapping", str(EXAMPLES / mapping)]
    args += [str(EXAMPLES / i) for i in inputs] + ["-o", str(out), "--today", TODAY]
    assert main(args) == 0
    return out


@pytest.mark.parametrize(("mapping", "inputs", "users"), CASES)
def test_example_converts_to_xml_that_validates_strictly(
    tmp_path: Path, mapping: str, inputs: list[str], users: int
) -> None:
    out = convert(tmp_path, mapping, inputs)
    result = feed_validate([out], strict=True)
    [report] = result.files
    assert report.problems == []
    assert report.users == users


@pytest.mark.django_db
@pytest.mark.parametrize(("mapping", "inputs", "users"), CASES[:2] + CASES[3:])
def test_engine_loads_each_example_with_the_expected_counts(
    tmp_path: Path, profile, drop: Path, mapping: str, inputs: list[str], users: int
) -> None:
    out = convert(tmp_path, mapping, inputs)
    drop_zip(out, drop / "synchronize" / "day1.zip")
    job = profile_run(profile=profile, kind="synchronize")
    assert (job.status, job.created, job.rejected) == ("completed", users, 0)
    assert Patron.objects.count() == users
    again = convert(tmp_path, mapping, inputs, "again.xml")
    drop_zip(again, drop / "synchronize" / "day2.zip")
    second = profile_run(profile=profile, kind="synchronize")
    assert (second.created, second.updated, second.unchanged) == (0, 0, users)


@pytest.mark.django_db
def test_loaded_students_carry_the_mapped_fields(tmp_path: Path, profile, drop: Path) -> None:
    out = convert(tmp_path, "students.yaml", ["students.csv"])
    drop_zip(out, drop / "synchronize" / "students.zip")
    profile_run(profile=profile, kind="synchronize")
    ada = Patron.objects.get(primary_id="S1000001")
    assert (ada.first_name, ada.user_group, str(ada.birth_date)) == ("Ada", "UNDERGRAD",
                                                                      "1995-12-10")  # fmt: skip
    assert str(ada.expiry_date) == "2027-09-01"  # today + 12 months
    assert str(ada.purge_date) == "2028-02-28"  # expiry + 180 days
    emails = [(e["email_address"], e["preferred"]) for e in ada.segments["email"]]
    assert emails == [("ada.lovelace@example.edu", True), ("ada@example.org", False)]
    gustav = Patron.objects.get(primary_id="S1000007")
    assert gustav.pref_first_name == "Gus"
    assert [s["statistic_category"]["value"] for s in gustav.segments["user_statistic"]] == [
        "SCI"  # PHIL is not in the departments map: its default
    ]


@pytest.mark.django_db
def test_loaded_hr_staff_have_every_joined_address(tmp_path: Path, profile, drop: Path) -> None:
    out = convert(tmp_path, "hr.toml", ["hr-people.csv", "hr-addresses.csv"])
    drop_zip(out, drop / "synchronize" / "hr.zip")
    profile_run(profile=profile, kind="synchronize")
    turing = Patron.objects.get(primary_id="E20002")
    addresses = [
        (a["line1"], a["address_type"][0]["value"], a["preferred"])
        for a in turing.segments["address"]
    ]
    assert addresses == [
        ("9 Bletchley Ln", "home", True),
        ("Gates Hall 101", "school", False),
        ("PO Box 1912", "alternative", False),  # MAIL: the map's default
    ]
    assert (turing.first_name, turing.user_group, turing.job_category) == (
        "Alan", "FACULTY", "ACADEMIC"
    )  # fmt: skip
    assert str(turing.expiry_date) == "2027-06-30"
    mary = Patron.objects.get(primary_id="E20003")
    assert "address" not in mary.segments or mary.segments["address"] == []


def test_delimiter_on_the_command_line_is_the_main_files_a_join_keeps_its_own(
    tmp_path: Path,
) -> None:
    out = tmp_path / "hr.xml"
    args = ["feed", "convert", "-m", str(EXAMPLES / "hr.toml"), str(EXAMPLES / "hr-people.csv"),
            "--delimiter", ";", "-o", str(out), "--today", TODAY]  # fmt: skip
    assert main(args) == 0  # hr-addresses.csv (commas) is still sniffed
    [report] = feed_validate([out], strict=True).files
    assert (report.users, report.problems) == (5, [])
    assert out.read_text().count("<address ") == 7
