"""Loading a mapping file: every mistake is an error naming the file, the key path and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from patronsync.feeds.convert.mapping import MappingError, mapping_load

GOOD = """\
version: 1
maps:
  programs:
    values: {BA: UNDERGRAD}
user:
  primary_id: {column: id, required: true}
  user_group: {column: program, map: programs}
"""


def load(tmp_path: Path, text: str, name: str = "m.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return mapping_load(path)


def error(tmp_path: Path, text: str, name: str = "m.yaml") -> str:
    with pytest.raises(MappingError) as info:
        load(tmp_path, text, name)
    return str(info.value)


def test_a_good_mapping_loads_with_its_fields_maps_and_columns(tmp_path: Path) -> None:
    mapping = load(tmp_path, GOOD)
    assert [name for name, _ in mapping.fields] == ["primary_id", "user_group"]
    assert mapping.maps["programs"].unmapped == "reject"  # no default: reject the row
    assert mapping.columns() == {"id", "program"}


def test_an_unknown_user_field_names_file_key_line_and_the_close_match(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "  fist_name: first\n")
    assert message.startswith(f"{tmp_path / 'm.yaml'}:8: user.fist_name: ")
    assert "unknown Alma user field 'fist_name'; did you mean 'first_name'?" in message


def test_an_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "email:\n  - {address: mail}\n")
    assert ":8: email: unknown key 'email'; did you mean 'emails'?" in message


def test_an_unknown_function_names_the_known_ones(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "  first_name: capitalize(first)\n")
    assert ":8: user.first_name: unknown function 'capitalize' (known: add_days," in message
    assert "at character 1 in 'capitalize(first)'" in message


def test_an_unknown_value_map_is_an_error_on_its_key(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD.replace("map: programs", "map: program"))
    assert ":7: user.user_group.map: unknown value map 'program' (defined: programs)" in message


def test_a_syntax_error_in_an_expression_says_where(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "  first_name: concat(first, ' '\n")
    assert "user.first_name: concat( is not closed" in message
    message = error(tmp_path, GOOD + "  first_name: upper(first, last)\n")
    assert "upper() takes 1 arguments, not 2" in message


def test_a_segment_key_that_does_not_exist_suggests_the_right_one(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "emails:\n  - {adress: mail, types: [school]}\n")
    assert ":9: emails[0].adress: unknown key 'adress'; did you mean 'address'?" in message


def test_an_identifier_needs_a_type_and_a_value(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "identifiers:\n  - {value: barcode}\n")
    assert ":9: identifiers[0]: identifiers need a type" in message
    message = error(tmp_path, GOOD + "identifiers:\n  - {type: BARCODE}\n")
    assert "identifiers[0]: the entry needs value" in message


def test_a_field_reference_must_come_after_the_field(tmp_path: Path) -> None:
    text = GOOD + "  purge_date: add_days(@expiry_date, 30)\n  expiry_date: today()\n"
    assert "user.purge_date: @expiry_date is not set above it" in error(tmp_path, text)


def test_a_key_given_twice_is_an_error_with_its_line(tmp_path: Path) -> None:
    message = error(tmp_path, GOOD + "  primary_id: other\n")
    assert ":8: user.primary_id: the key is given twice" in message


def test_a_value_map_with_unmapped_default_needs_a_default(tmp_path: Path) -> None:
    text = GOOD.replace("    values: {BA: UNDERGRAD}", "    values: {BA: UNDERGRAD}\n"
                        "    unmapped: default")  # fmt: skip
    assert "maps.programs.unmapped: unmapped: default needs a default" in error(tmp_path, text)


def test_invalid_yaml_names_its_line(tmp_path: Path) -> None:
    message = error(tmp_path, "user:\n  first_name: [\n")
    assert message.startswith(f"{tmp_path / 'm.yaml'}:3: not valid YAML")


def test_a_toml_mapping_loads_and_its_errors_name_the_line(tmp_path: Path) -> None:
    text = '[user]\nprimary_id = { column = "id" }\nlast_name = "upper(last)"\n'
    mapping = load(tmp_path, text, "m.toml")
    assert [name for name, _ in mapping.fields] == ["primary_id", "last_name"]
    message = error(tmp_path, text + 'colour = "x"\n', "m.toml")
    assert message.startswith(f"{tmp_path / 'm.toml'}:4: user.colour: unknown Alma user field")


def test_a_date_format_on_a_text_field_is_an_error(tmp_path: Path) -> None:
    text = GOOD + "  first_name: {column: f, date_format: '%d.%m.%Y'}\n"
    assert "user.first_name.date_format: first_name is not a date field" in error(tmp_path, text)


def test_output_only_fields_are_refused(tmp_path: Path) -> None:
    assert "unknown Alma user field 'full_name'" in error(tmp_path, GOOD + "  full_name: x\n")


def test_a_missing_mapping_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        mapping_load(tmp_path / "nope.yaml")


def test_yaml_keys_that_yaml_1_1_reads_as_booleans_stay_text(tmp_path: Path) -> None:
    text = GOOD.replace("{BA: UNDERGRAD}", "{Y: STAFF, N: GUEST, on: GRAD}")
    text += "joins:\n  - {name: addr, key: pid, on: id}\n"
    mapping = load(tmp_path, text)
    assert mapping.maps["programs"].values == {"Y": "STAFF", "N": "GUEST", "on": "GRAD"}
    assert (mapping.joins[0].key, mapping.joins[0].on) == ("pid", "id")
