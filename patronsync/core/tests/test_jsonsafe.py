"""Client JSON is read with a bound on its nesting, checked before the parser recurses."""

from __future__ import annotations

import json

import pytest

from patronsync.core.jsonsafe import MAX_JSON_DEPTH, JsonTooDeep, json_loads_bounded


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_at_the_depth_bound_is_read():
    assert json_loads_bounded(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_json_past_the_depth_bound_is_refused_with_a_value_error(depth):
    with pytest.raises(JsonTooDeep, match="nested more than 64 levels deep"):
        json_loads_bounded(nested(depth).encode())


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[" * 1000 + '\\"' + "{" * 1000, "b": [{"c": "]]]"}]})

    assert json_loads_bounded(text)["b"] == [{"c": "]]]"}]


def test_objects_count_like_arrays():
    with pytest.raises(JsonTooDeep):
        json_loads_bounded('{"a":' * 65 + "1" + "}" * 65)


def test_deep_json_in_utf16_is_refused_too():
    with pytest.raises(JsonTooDeep):
        json_loads_bounded(nested(100_000).encode("utf-16"))


def test_closing_brackets_first_earn_no_depth_credit():
    with pytest.raises(JsonTooDeep):
        json_loads_bounded("]" * 1000 + nested(100))
