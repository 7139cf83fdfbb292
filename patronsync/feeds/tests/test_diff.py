"""``patronsync feed diff OLD NEW``: users added, removed and changed field by field, counts
that stay complete under --limit, JSON Lines, and the warning when NEW has shrunk."""

from __future__ import annotations

import json
from pathlib import Path

from patronsync.feeds.commands import main
from patronsync.feeds.diff import DiffSummary, FieldChange, feed_diff
from patronsync.feeds.pack import feed_pack
from patronsync.feeds.sample import write_sample_feed
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip

TWO_EMAILS = (
    '<contact_info><emails><email preferred="true"><email_address>{a}</email_address>'
    "<email_types><email_type>personal</email_type></email_types></email>"
    '<email preferred="false"><email_address>{b}</email_address>'
    "<email_types><email_type>work</email_type></email_types></email></emails></contact_info>"
)


def feed(path: Path, *users: str) -> Path:
    path.write_text(users_doc(*users))
    return path


def user(primary_id: str, **fields: str) -> str:
    return user_xml(primary_id, **fields)


def test_added_removed_and_changed_users_with_the_fields_that_changed(tmp_path):
    old = feed(tmp_path / "old.xml", user("s1"), user("s2", first="Bob"), user("s3"),
               user("s4", group="GRAD"))  # fmt: skip
    new = feed(tmp_path / "new.xml", user("s2", first="Robert"), user("s1"), user("s5"),
               user("s4", group="STAFF"))  # fmt: skip
    summary = DiffSummary()

    changes = {c.primary_id: c for c in feed_diff([old], [new], summary=summary)}

    assert {k: c.kind for k, c in changes.items()} == {
        "s2": "changed", "s5": "added", "s4": "changed", "s3": "removed",
    }  # fmt: skip
    assert changes["s2"].changes == (FieldChange("first_name", "Bob", "Robert"),)
    assert changes["s4"].changes == (FieldChange("user_group", "GRAD", "STAFF"),)
    assert changes["s2"].location == f"{new}:3"  # where it is in NEW
    assert changes["s2"].old_location == f"{old}:4"
    assert changes["s3"].location == f"{old}:5"  # a removed user: where it was in OLD
    assert (summary.old_users, summary.new_users) == (4, 4)
    assert (summary.added, summary.removed, summary.changed, summary.unchanged) == (1, 1, 2, 1)


def test_a_segment_added_to_a_list_is_shown_as_added_and_the_rest_is_not_a_change(tmp_path):
    one = user("s1").replace(
        user("s1")[user("s1").index("<contact_info>") : user("s1").index("</contact_info>") + 15],
        TWO_EMAILS.format(a="a@uni.edu", b="b@uni.edu"),
    )
    # The same emails in the other order, and a third: only the third is a change.
    other = one.replace(
        TWO_EMAILS.format(a="a@uni.edu", b="b@uni.edu"),
        TWO_EMAILS.format(a="a@uni.edu", b="b@uni.edu").replace(
            "</emails>",
            "<email><email_address>c@uni.edu</email_address><email_types><email_type>work"
            "</email_type></email_types></email></emails>",
        ),
    )
    old, new = feed(tmp_path / "old.xml", one), feed(tmp_path / "new.xml", other)

    [change] = feed_diff([old], [new])

    [field] = change.changes
    assert field.field == "contact_info.email"
    assert field.old is None
    assert field.new["email_address"] == "c@uni.edu"


def test_a_reformatted_user_is_unchanged_and_primary_ids_match_whatever_their_case(tmp_path):
    old = feed(tmp_path / "old.xml", user("AB1"), user("s9"))
    pretty = user("s9").replace("><", ">\n    <")
    new = feed(tmp_path / "new.xml", user("ab1"), pretty)
    summary = DiffSummary()

    [change] = feed_diff([old], [new], summary=summary)

    assert change.kind == "changed"
    by_field = {c.field: c for c in change.changes}
    assert by_field["primary_id"] == FieldChange("primary_id", "AB1", "ab1")
    assert set(by_field) == {"primary_id", "contact_info.email.email_address"}  # made from the ID
    assert (summary.added, summary.removed, summary.unchanged) == (0, 0, 1)


def test_text_output_lists_users_up_to_the_limit_and_counts_them_all(tmp_path, capsys):
    old = feed(tmp_path / "old.xml", *(user(f"s{i}") for i in range(10)))
    new = feed(tmp_path / "new.xml", *(user(f"s{i}", first="Eve") for i in range(10)))

    assert main(["feed", "diff", str(old), str(new), "--limit", "3"]) == 0

    out = capsys.readouterr().out
    assert out.count("changed s") == 3
    assert f'changed s0 ({new}:3)\n    first_name: "Ada" -> "Eve"\n' in out
    assert "7 more users not shown" in out
    assert "OLD 10 users, NEW 10 users: 0 added, 0 removed, 10 changed, 0 unchanged" in out


def test_json_lines_give_every_change_then_the_summary(tmp_path, capsys):
    old = feed(tmp_path / "old.xml", user("s1"), user("s2"))
    new = feed(tmp_path / "new.xml", user("s1", last="Byron"), user("s3"))

    assert main(["feed", "diff", str(old), str(new), "--json"]) == 0

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line.get("change"), line.get("primary_id")) for line in lines[:3]] == [
        ("changed", "s1"), ("added", "s3"), ("removed", "s2"),
    ]  # fmt: skip
    assert lines[0]["changes"] == [{"field": "last_name", "old": "Lovelace", "new": "Byron"}]
    summary = lines[3]["summary"]
    assert (summary["added"], summary["removed"], summary["changed"]) == (1, 1, 1)
    assert summary["shrunk"] is False


def test_a_feed_far_smaller_than_the_last_is_warned_about_with_exit_3(tmp_path, capsys):
    old = feed(tmp_path / "old.xml", *(user(f"s{i}") for i in range(10)))
    new = feed(tmp_path / "new.xml", *(user(f"s{i}") for i in range(7)))

    assert main(["feed", "diff", str(old), str(new)]) == 3
    captured = capsys.readouterr()
    assert "NEW has 7 users, 70.0% of OLD's 10, under --min-ratio 0.8" in captured.err
    assert "0 added, 3 removed" in captured.out

    assert main(["feed", "diff", str(old), str(new), "--min-ratio", "0.5"]) == 0


def test_a_feed_that_cannot_be_read_is_named_with_its_line_and_exits_1(tmp_path, capsys):
    old = feed(tmp_path / "old.xml", user("s1"))
    new = tmp_path / "new.xml"
    new.write_text("<users>\n<user><primary_id>s1</primary_id></user>\n<user>")

    assert main(["feed", "diff", str(old), str(new)]) == 1

    err = capsys.readouterr().err
    assert f"{new}:3: not well-formed XML" in err
    assert "comparison is incomplete" in err


def test_zips_and_a_folder_of_packed_zips_compare_as_the_same_feed(tmp_path, capsys):
    day1 = tmp_path / "day1.zip"
    write_sample_feed(day1, 400, seed=1, users_per_file=150)
    day2 = tmp_path / "day2.zip"
    write_sample_feed(day2, 400, seed=2, base_seed=1, changed_fraction=0.05,
                      added_fraction=0.01, users_per_file=150)  # fmt: skip
    packed = tmp_path / "packed"
    feed_pack([day2], output=packed, users_per_file=50, max_files_per_zip=3)

    assert main(["feed", "diff", str(day2), str(packed)]) == 0
    assert "0 added, 0 removed, 0 changed, 404 unchanged" in capsys.readouterr().out

    summary = DiffSummary()
    changes = list(feed_diff([day1], sorted(packed.glob("*.zip")), summary=summary))
    assert summary.added == 4
    assert summary.changed > 0
    assert summary.changed == sum(1 for c in changes if c.kind == "changed")
    assert all(c.changes for c in changes if c.kind == "changed")


def test_duplicates_in_a_feed_are_warned_about_and_counted_once(tmp_path, capsys):
    old = feed(tmp_path / "old.xml", user("s1"), user("s1", first="Twin"))
    new = write_zip(tmp_path / "new.zip", {"a.xml": users_doc(user("s1"))})

    assert main(["feed", "diff", str(old), str(new)]) == 0

    captured = capsys.readouterr()
    assert f"{old}:4: warning: user s1: primary ID given again in OLD (first at {old}:3)" in (
        captured.err
    )
    assert "OLD 1 users, NEW 1 users: 0 added, 0 removed, 0 changed, 1 unchanged" in captured.out


def test_a_changed_password_or_pin_is_reported_as_changed_without_its_values(tmp_path, capsys):
    secrets = "<pin_number>{pin}</pin_number><password>{pw}</password>"
    old = feed(tmp_path / "old.xml", user("s1", extra=secrets.format(pin="4711", pw="OldPass1!")))
    new = feed(tmp_path / "new.xml", user("s1", extra=secrets.format(pin="0815", pw="NewPass2?")))

    [change] = feed_diff([old], [new])
    assert {c.field: c.secret for c in change.changes} == {"password": True, "pin_number": True}

    assert main(["feed", "diff", str(old), str(new)]) == 0
    text = capsys.readouterr().out
    assert "    password: changed (not shown)\n" in text
    assert "    pin_number: changed (not shown)\n" in text

    assert main(["feed", "diff", str(old), str(new), "--json"]) == 0
    lines = capsys.readouterr().out
    [line, _summary] = [json.loads(text) for text in lines.splitlines()]
    assert line["changes"] == [
        {"field": "password", "secret": True, "old": None, "new": None},
        {"field": "pin_number", "secret": True, "old": None, "new": None},
    ]
    for value in ("4711", "0815", "OldPass1!", "NewPass2?"):
        assert value not in text
        assert value not in lines
