"""``patronsync feed pack``: zips within Alma's limits, a manifest whose sums hold, every XML file
a valid ``<users>`` document, the users unchanged, and errors named by file and line."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from patronsync.almaxml.reader import iter_raw_users
from patronsync.almaxml.validation import users_schema
from patronsync.feeds.commands import main
from patronsync.feeds.diff import DiffSummary, feed_diff
from patronsync.feeds.pack import feed_pack
from patronsync.feeds.sample import write_sample_feed
from patronsync.feeds.validate import feed_validate


def sample(tmp_path: Path, users: int, name: str = "export.zip") -> Path:
    path = tmp_path / name
    write_sample_feed(path, users, seed=1, users_per_file=max(users, 1))
    return path


def zips_of(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.zip"))


def primary_ids(*paths: Path) -> list[str | None]:
    return [user.primary_id for path in paths for user in iter_raw_users(path)]


def assert_every_xml_is_valid(folder: Path) -> None:
    schema = users_schema()
    for path in zips_of(folder):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                document = etree.fromstring(zf.read(name))
                assert schema.validate(document), (path.name, name, schema.error_log)


def test_no_zip_holds_more_than_50_xml_files(tmp_path):
    feed = sample(tmp_path, 120)

    assert main(["feed", "pack", str(feed), "-o", str(tmp_path / "out"), "--users-per-file", "2",
                 "-q"]) == 0  # fmt: skip

    zips = zips_of(tmp_path / "out")
    assert [p.name for p in zips] == ["users-0001.zip", "users-0002.zip"]
    with zipfile.ZipFile(zips[0]) as first, zipfile.ZipFile(zips[1]) as second:
        assert len(first.namelist()) == 50
        assert len(second.namelist()) == 10
        assert first.namelist()[:2] == ["users-0001-001.xml", "users-0001-002.xml"]
    assert primary_ids(*zips) == primary_ids(feed)
    assert_every_xml_is_valid(tmp_path / "out")


def test_files_hold_the_users_per_file_asked_for_and_the_last_the_rest(tmp_path):
    feed = sample(tmp_path, 250)

    result = feed_pack([feed], output=tmp_path / "out", users_per_file=100)

    assert result.written
    [packed] = result.zips
    assert [f.users for f in packed.files] == [100, 100, 50]
    assert packed.users == result.users == 250


def test_a_small_maximum_zip_size_spreads_the_users_over_zips_within_it(tmp_path):
    feed = sample(tmp_path, 300)
    limit = 150_000

    assert main(["feed", "pack", str(feed), "-o", str(tmp_path / "out"), "--max-zip-bytes",
                 "150000", "-q"]) == 0  # fmt: skip

    zips = zips_of(tmp_path / "out")
    assert len(zips) > 2
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            assert sum(info.file_size for info in zf.infolist()) <= limit
    assert primary_ids(*zips) == primary_ids(feed)
    assert_every_xml_is_valid(tmp_path / "out")
    # What a job opens: each zip within the loader's own limits, users valid against the XSD.
    assert feed_validate(zips, strict=True).ok


def test_the_manifest_counts_and_sums_match_the_zips_and_their_files(tmp_path):
    feed = sample(tmp_path, 230)
    out = tmp_path / "out"
    feed_pack([feed], output=out, users_per_file=40, max_files_per_zip=3)

    manifest = json.loads((out / "manifest.json").read_text())

    assert manifest["users"] == 230
    assert manifest["inputs"] == [{"file": str(feed), "users": 230}]
    assert [z["name"] for z in manifest["zips"]] == [p.name for p in zips_of(out)]
    assert sum(z["users"] for z in manifest["zips"]) == 230
    for entry in manifest["zips"]:
        path = out / entry["name"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["bytes"] == path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            assert [f["name"] for f in entry["files"]] == zf.namelist()
            for item in entry["files"]:
                data = zf.read(item["name"])
                assert item["sha256"] == hashlib.sha256(data).hexdigest()
                assert item["bytes"] == len(data)
                assert item["users"] == data.count(b"<user>")
        assert entry["expanded_bytes"] == sum(f["bytes"] for f in entry["files"])
    assert manifest["limits"] == {"users_per_file": 40, "files_per_zip": 3,
                                  "max_zip_bytes": 4 * 1024**3}  # fmt: skip


def test_packing_changes_no_user_and_keeps_their_order_across_inputs(tmp_path):
    first = sample(tmp_path, 30, "a.zip")
    second = tmp_path / "b.xml"
    second.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<users xmlns="urn:sis">\n'
        "<user><primary_id>N1</primary_id><first_name>Nia</first_name></user>\n</users>\n"
    )
    out = tmp_path / "out"

    result = feed_pack([first, second], output=out, users_per_file=7)

    assert result.written
    summary = DiffSummary()
    assert list(feed_diff([first, second], zips_of(out), summary=summary)) == []
    assert (summary.old_users, summary.unchanged) == (31, 31)
    assert primary_ids(*zips_of(out))[-1] == "N1"
    assert_every_xml_is_valid(out)  # the namespaced user is written without its namespace


def test_a_file_that_compresses_like_a_zip_bomb_is_stored_so_a_job_takes_the_zip(tmp_path):
    padding = "\n" + " " * 600_000  # blank text between elements: no data, but it compresses
    feed = tmp_path / "airy.xml"
    feed.write_text(
        "<users>"
        + "".join(f"<user>{padding}<primary_id>{i}</primary_id></user>" for i in range(3))
        + "</users>"
    )
    out = tmp_path / "out"

    result = feed_pack([feed], output=out, users_per_file=2)

    assert result.written
    with zipfile.ZipFile(out / "users-0001.zip") as zf:
        kinds = [(i.filename, i.compress_type) for i in zf.infolist()]
    assert kinds == [
        ("users-0001-001.xml", zipfile.ZIP_STORED),
        ("users-0001-002.xml", zipfile.ZIP_DEFLATED),  # 600 KB: under the ratio rule's 1 MB
    ]
    assert feed_validate([out / "users-0001.zip"], strict=False).ok
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["zips"][0]["sha256"]
        == hashlib.sha256((out / "users-0001.zip").read_bytes()).hexdigest()
    )


def test_a_user_error_is_named_by_file_and_line_and_nothing_is_packed(tmp_path, capsys):
    feed = tmp_path / "bad.xml"
    feed.write_text(
        "<users>\n<user><primary_id>1</primary_id>\n<birth_date>x</birth_date></user>\n"
        "<user><primary_id>2</primary_id></user>\n<user><primary_id>1</primary_id></user>\n"
        "</users>\n"
    )

    assert main(["feed", "pack", str(feed), "-o", str(tmp_path / "out")]) == 1

    err = capsys.readouterr().err
    assert f"{feed}:3: user 1: <birth_date> 'x' is not a date" in err
    assert f"{feed}:5: user 1: primary ID given again (first at {feed}:2)" in err
    assert "nothing packed" in err
    assert list((tmp_path / "out").iterdir()) == []


def test_keep_invalid_packs_users_with_errors(tmp_path):
    feed = tmp_path / "bad.xml"
    feed.write_text("<users><user><primary_id>1</primary_id><birth_date>x</birth_date></user>"
                    "<user><primary_id>2</primary_id></user></users>")  # fmt: skip

    result = feed_pack([feed], output=tmp_path / "out", keep_invalid=True)

    assert result.written
    assert [p.code for p in result.errors] == ["VALUE_NOT_A_DATE"]
    assert primary_ids(*zips_of(tmp_path / "out")) == ["1", "2"]


def test_a_file_that_is_not_well_formed_is_never_packed(tmp_path, capsys):
    feed = tmp_path / "cut.xml"
    feed.write_text("<users>\n<user><primary_id>1</primary_id></user>\n<user><primary_id>2")

    assert main(["feed", "pack", str(feed), "-o", str(tmp_path / "out"), "--keep-invalid"]) == 1

    err = capsys.readouterr().err
    assert f"{feed}:3: not well-formed XML" in err
    assert zips_of(tmp_path / "out") == []


def test_strict_checks_users_against_the_xsd(tmp_path):
    feed = tmp_path / "odd.xml"
    feed.write_text("<users><user><primary_id>1</primary_id><shoe_size>9</shoe_size></user>"
                    "</users>")  # fmt: skip

    assert feed_pack([feed], output=tmp_path / "lenient").written
    strict = feed_pack([feed], output=tmp_path / "strict", strict=True)

    assert not strict.written
    assert [p.code for p in strict.errors] == ["SCHEMA_INVALID"]


def test_an_earlier_pack_is_kept_unless_replace_and_then_leaves_no_stale_zip(tmp_path, capsys):
    out = tmp_path / "out"
    feed_pack([sample(tmp_path, 90)], output=out, users_per_file=10, max_files_per_zip=3)
    assert len(zips_of(out)) == 3

    assert main(["feed", "pack", str(sample(tmp_path, 20, "small.zip")), "-o", str(out)]) == 2
    assert "holds an earlier pack" in capsys.readouterr().err
    assert len(zips_of(out)) == 3

    assert main(["feed", "pack", str(tmp_path / "small.zip"), "-o", str(out), "--replace",
                 "-q"]) == 0  # fmt: skip
    assert [p.name for p in zips_of(out)] == ["users-0001.zip"]
    assert json.loads((out / "manifest.json").read_text())["users"] == 20
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_an_empty_feed_is_not_packed(tmp_path, capsys):
    feed = tmp_path / "empty.xml"
    feed.write_text("<users></users>")

    assert main(["feed", "pack", str(feed), "-o", str(tmp_path / "out")]) == 1
    assert "holds no users" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--files-per-zip", "51", "between 1 and 50"),
        ("--users-per-file", "0", "at least 1"),
        ("--max-zip-bytes", "5G", "4 GB"),
        ("--prefix", "../x", "--prefix"),
    ],
)
def test_options_outside_alma_s_limits_are_refused(tmp_path, capsys, option, value, words):
    feed = sample(tmp_path, 3)

    assert main(["feed", "pack", str(feed), "-o", str(tmp_path / "out"), option, value]) == 2
    assert words in capsys.readouterr().err
