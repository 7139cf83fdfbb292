"""The mapping file (YAML or TOML): its model, and a loader that names the file, key and line.

Every key is checked on load: an unknown key, field, function or value map is an error that
names the mapping file, the key path (``user.user_group.map``) and, where the format allows,
the line, so a typo never turns into a silently empty field in a million users' feed.
The format is described in docs/mapping-format.md.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from patronsync.almaxml.schema import USER, Kind
from patronsync.feeds.convert.expressions import (
    ExpressionError,
    Parsed,
    Scope,
    Value,
    parse_expression,
)

KeyPath = tuple[str | int, ...]

# The user's own fields a mapping may set: every text, code, date and boolean field of the XSD
# except the ones Alma computes and never takes from a feed.
OUTPUT_ONLY = frozenset({"full_name", "link", "last_patron_activity_date"})
USER_FIELDS: dict[str, Kind] = {
    f.name: f.kind
    for f in USER.fields
    if f.kind in (Kind.TEXT, Kind.CODE, Kind.DATE, Kind.BOOL) and f.name not in OUTPUT_ONLY
}
SEGMENT_TYPES = ("External", "Internal")
UNMAPPED_ACTIONS = ("reject", "default", "keep")
FORMATS = ("csv", "json", "jsonl")


class MappingError(ValueError):
    """A mapping file that cannot be used: names the file, the key path and the line if known."""

    def __init__(self, path: str, key: KeyPath, message: str, line: int | None = None) -> None:
        where = path + (f":{line}" if line else "")
        dotted = _dotted(key)
        super().__init__(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")
        self.path = path
        self.key = key
        self.line = line
        self.message = message


def _dotted(key: KeyPath) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# -- the model ----------------------------------------------------------------------------


@dataclass(slots=True)
class ValueSpec:
    """How one value is made: an expression (or a constant), then a value map, a default.

    `required`: an empty result makes the row bad. `date_format`: how text is read as a date.
    `key` is where the spec sits in the mapping file, for reports.
    """

    key: str
    expr: Parsed | None = None
    constant: Value = None
    map: str | None = None
    default: Value = None
    required: bool = False
    date_format: str | None = None

    @property
    def columns(self) -> list[str]:
        """The input columns the value reads, dotted."""
        return self.expr.column_names if self.expr else []

    def evaluate(self, scope: Scope) -> Value:
        """The value for one row (before it is typed as a date, boolean or code)."""
        value = self.expr.run(scope) if self.expr else self.constant
        if self.map is not None and value is not None:
            assert scope.maps is not None
            value = scope.maps(self.map, value)
        if value is None or value == "":
            value = self.default
        return value


@dataclass(slots=True)
class ValueMap:
    """A value map (an SIS program code to a user group) and what to do with other values."""

    name: str
    values: dict[str, str | None]
    default: str | None = None
    unmapped: str = "reject"
    ignore_case: bool = False

    def __post_init__(self) -> None:
        if self.ignore_case:
            self.values = {k.casefold(): v for k, v in self.values.items()}


@dataclass(slots=True)
class InputSpec:
    """How an input file is read; anything not given is found out from the file."""

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None


@dataclass(slots=True)
class JoinSpec:
    """A second input joined to the main one: its rows whose `key` equals the main row's `on`."""

    name: str
    key: str
    on: str
    file: Path | None = None
    required: bool = False
    input: InputSpec = field(default_factory=InputSpec)


@dataclass(slots=True)
class SegmentSpec:
    """One entry of a segment list (an email, an address...), perhaps repeated with for_each.

    `values` holds the segment's fields; `main` names the fields of which one must be non-empty
    for the segment to be written. `types` are codes (``email_types``), constants or values.
    """

    kind: str
    key: str
    values: dict[str, ValueSpec]
    main: tuple[str, ...]
    types: list[ValueSpec] = field(default_factory=list)
    preferred: ValueSpec | None = None
    preferred_sms: ValueSpec | None = None
    for_each: str | None = None
    required: bool = False
    segment_type: str | None = None


@dataclass(slots=True)
class Mapping:
    """A loaded, checked mapping file."""

    path: Path
    input: InputSpec
    joins: list[JoinSpec]
    maps: dict[str, ValueMap]
    fields: list[tuple[str, ValueSpec]]
    segments: dict[str, list[SegmentSpec]]
    segment_type: str = "External"

    def columns(self) -> set[str]:
        """The main input's columns the mapping reads (joins and for_each items left out)."""
        scoped = {j.name for j in self.joins}
        scoped |= {s.for_each for ss in self.segments.values() for s in ss if s.for_each}
        out: set[str] = set()
        specs = [v for _, v in self.fields]
        for entries in self.segments.values():
            for seg in entries:
                specs += [*seg.values.values(), *seg.types]
                specs += [s for s in (seg.preferred, seg.preferred_sms) if s]
        for spec in specs:
            if spec.expr:
                for path in spec.expr.columns:
                    if not (len(path) > 1 and path[0] in scoped):
                        out.add(path[0])
        return out


# What each segment list holds: the XSD's element names of its fields, the mapping's names for
# them where they differ, and which must be present for the segment to be written.
SEGMENTS: dict[str, dict[str, Any]] = {
    "identifiers": {
        "fields": {"value": "value", "note": "note", "status": "status"},
        "type": "id_type",
        "main": ("value",),
    },
    "emails": {
        "fields": {"address": "email_address", "description": "description"},
        "types": "email_types",
        "main": ("email_address",),
        "preferred": True,
    },
    "phones": {
        "fields": {"number": "phone_number"},
        "types": "phone_types",
        "main": ("phone_number",),
        "preferred": True,
        "preferred_sms": True,
    },
    "addresses": {
        "fields": {
            **{f"line{n}": f"line{n}" for n in range(1, 6)},
            "city": "city",
            "state_province": "state_province",
            "postal_code": "postal_code",
            "country": "country",
            "address_note": "address_note",
            "start_date": "start_date",
            "end_date": "end_date",
        },
        "types": "address_types",
        "main": ("line1", "line2", "line3", "line4", "line5", "city", "postal_code"),
        "preferred": True,
    },
    "statistics": {
        "fields": {"category": "statistic_category", "note": "statistic_note"},
        "type": "category_type",
        "main": ("statistic_category",),
    },
    "notes": {
        "fields": {
            "text": "note_text",
            "user_viewable": "user_viewable",
            "popup_note": "popup_note",
            "created_by": "created_by",
        },
        "type": "note_type",
        "main": ("note_text",),
    },
}
# The segment fields typed as dates or booleans (the rest are text or codes).
SEGMENT_DATES = frozenset({"start_date", "end_date"})
SEGMENT_BOOLS = frozenset({"user_viewable", "popup_note"})
SPEC_KEYS = ("expr", "column", "value", "map", "default", "required", "date_format")


# -- reading the file ---------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader whose keys are always text: YAML 1.1 reads ``on:``, ``yes:`` and ``no:`` as
    booleans, which would turn a join's ``on`` or a value map's ``Y``/``N`` codes into True."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key_node.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep)


def _yaml_lines(node: Any, key: KeyPath, lines: dict[KeyPath, int], path: str) -> None:
    """Record the line of every key and item; a key given twice is an error."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            name = str(key_node.value)
            here = (*key, name)
            if name in seen:
                line = key_node.start_mark.line + 1
                raise MappingError(path, here, "the key is given twice", line)
            seen.add(name)
            lines[here] = key_node.start_mark.line + 1
            _yaml_lines(value_node, here, lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*key, index)] = item.start_mark.line + 1
            _yaml_lines(item, (*key, index), lines, path)


def _toml_lines(text: str, data: Any) -> dict[KeyPath, int]:
    """Best-effort lines for TOML (tomllib gives none): each key's first ``key =`` line."""
    lines: dict[KeyPath, int] = {}
    source = text.splitlines()

    def find(name: str, start: int) -> int | None:
        pattern = re.compile(rf"^\s*(\[\[?)?\s*(?:[\w.\"-]*\.)?\"?{re.escape(name)}\"?\s*(=|\])")
        for number in range(start, len(source)):
            if pattern.match(source[number]):
                return number + 1
        return None

    def walk(value: Any, key: KeyPath, start: int) -> None:
        if isinstance(value, dict):
            for name, child in value.items():
                line = find(str(name), start)
                if line:
                    lines[(*key, name)] = line
                walk(child, (*key, name), (line or start + 1) - 1)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                lines[(*key, index)] = start + 1
                walk(child, (*key, index), start)

    walk(data, (), 0)
    return lines


class _Reader:
    """Walks the loaded document, checking keys and types, with the file's lines at hand."""

    def __init__(self, path: Path, lines: dict[KeyPath, int]) -> None:
        self.path = str(path)
        self.lines = lines

    def error(self, key: KeyPath, message: str) -> MappingError:
        line = None
        for depth in range(len(key), 0, -1):
            line = self.lines.get(key[:depth])
            if line:
                break
        return MappingError(self.path, key, message, line)

    def table(self, value: Any, key: KeyPath, allowed: tuple[str, ...] | None) -> dict[str, Any]:
        if not isinstance(value, AbcMapping):
            raise self.error(key, f"expected a table of keys, got {_kind(value)}")
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    raise self.error((*key, name), _unknown("key", str(name), allowed))
        return dict(value)

    def text(self, value: Any, key: KeyPath) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty text, got {_kind(value)}")
        return value

    def flag(self, value: Any, key: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def choice(self, value: Any, key: KeyPath, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}")
        return str(value)

    def expression(self, text: str, key: KeyPath, maps: AbcMapping[str, Any]) -> Parsed:
        try:
            return parse_expression(text, known_maps=list(maps))
        except ExpressionError as exc:
            at = f" at character {exc.position + 1}" if exc.position is not None else ""
            raise self.error(key, f"{exc.message}{at} in {text!r}") from None

    def value_spec(
        self, raw: Any, key: KeyPath, maps: AbcMapping[str, Any], *, constant: bool = False
    ) -> ValueSpec:
        """A value: a string is an expression (a code when `constant`), a number or boolean a
        constant, a table says `expr`, `column` or `value` with map/default/required."""
        name = ".".join(str(k) for k in key if not isinstance(k, int))
        if isinstance(raw, bool | int | float) and not isinstance(raw, AbcMapping):
            return ValueSpec(name, constant=raw if isinstance(raw, bool | int) else str(raw))
        if isinstance(raw, str):
            if constant:
                return ValueSpec(name, constant=self.text(raw, key))
            return ValueSpec(name, expr=self.expression(raw, key, maps))
        spec = self.table(raw, key, SPEC_KEYS)
        sources = [k for k in ("expr", "column", "value") if k in spec]
        if len(sources) != 1:
            raise self.error(key, "give exactly one of expr, column or value")
        out = ValueSpec(name)
        source = sources[0]
        if source == "expr":
            out.expr = self.expression(self.text(spec["expr"], (*key, "expr")), key, maps)
        elif source == "column":
            column = self.text(spec["column"], (*key, "column"))
            out.expr = self.expression("`" + column.replace("`", "") + "`", key, maps)
        else:
            out.constant = _scalar(self, spec["value"], (*key, "value"))
        if "map" in spec:
            map_name = self.text(spec["map"], (*key, "map"))
            if map_name not in maps:
                known = ", ".join(sorted(maps)) or "none"
                raise self.error(
                    (*key, "map"), f"unknown value map {map_name!r} (defined: {known})"
                )
            out.map = map_name
        if "default" in spec:
            out.default = _scalar(self, spec["default"], (*key, "default"))
        if "required" in spec:
            out.required = self.flag(spec["required"], (*key, "required"))
        if "date_format" in spec:
            out.date_format = self.text(spec["date_format"], (*key, "date_format"))
        return out


def _scalar(reader: _Reader, value: Any, key: KeyPath) -> Value:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return str(value)
    raise reader.error(key, f"expected a single value, got {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, AbcMapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _unknown(what: str, name: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
    return f"unknown {what} {name!r}; {hint}"


TOP_KEYS = ("version", "input", "joins", "maps", "segment_type", "user", *SEGMENTS)
INPUT_KEYS = ("format", "delimiter", "encoding")


def _input_spec(reader: _Reader, raw: Any, key: KeyPath) -> InputSpec:
    spec = reader.table(raw, key, INPUT_KEYS)
    out = InputSpec()
    if "format" in spec:
        out.format = reader.choice(spec["format"], (*key, "format"), FORMATS)
    if "delimiter" in spec:
        delimiter = spec["delimiter"]
        if delimiter == "\\t":
            delimiter = "\t"
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise reader.error((*key, "delimiter"), "expected one character (\\t for a tab)")
        out.delimiter = delimiter
    if "encoding" in spec:
        import codecs

        encoding = reader.text(spec["encoding"], (*key, "encoding"))
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise reader.error((*key, "encoding"), f"unknown encoding {encoding!r}") from None
        out.encoding = encoding
    return out


def _segment(
    reader: _Reader, kind: str, raw: Any, key: KeyPath, maps: AbcMapping[str, Any], scopes: set[str]
) -> SegmentSpec:
    shape = SEGMENTS[kind]
    names: dict[str, str] = shape["fields"]
    allowed = [*names, "for_each", "required", "segment_type"]
    for extra in ("type", "types", "preferred", "preferred_sms"):
        if extra in shape or (extra == "type" and "type" in shape):
            allowed.append(extra)
    spec = reader.table(raw, key, tuple(allowed))
    segment = SegmentSpec(kind, _dotted(key), {}, shape["main"])
    if "for_each" in spec:
        segment.for_each = reader.text(spec["for_each"], (*key, "for_each"))
        scopes.add(segment.for_each)
    for name, target in names.items():
        if name in spec:
            segment.values[target] = reader.value_spec(spec[name], (*key, name), maps)
    if "type" in shape:
        if "type" not in spec:
            raise reader.error(key, f"{kind} need a type (the {shape['type']} code)")
        segment.values[shape["type"]] = reader.value_spec(
            spec["type"], (*key, "type"), maps, constant=True
        )
    if "types" in spec:
        raw_types = spec["types"]
        items = raw_types if isinstance(raw_types, list) else [raw_types]
        segment.types = [
            reader.value_spec(item, (*key, "types", index), maps, constant=True)
            for index, item in enumerate(items)
        ]
    for flag in ("preferred", "preferred_sms"):
        if flag in spec:
            setattr(segment, flag, reader.value_spec(spec[flag], (*key, flag), maps))
    if "required" in spec:
        segment.required = reader.flag(spec["required"], (*key, "required"))
    if "segment_type" in spec:
        segment.segment_type = reader.choice(
            spec["segment_type"], (*key, "segment_type"), SEGMENT_TYPES
        )
    if not any(segment.values.get(m) for m in segment.main):
        wanted = " or ".join(n for n, t in names.items() if t in segment.main)
        raise reader.error(key, f"the entry needs {wanted}")
    return segment


def mapping_load(path: str | Path) -> Mapping:
    """Read and check a mapping file (``.yaml``/``.yml`` or ``.toml``).

    Raises MappingError naming the file, the key path and the line of the first fault.
    """
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise MappingError(name, (), f"cannot read the mapping file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise MappingError(name, (), "the mapping file is not UTF-8 text") from None
    lines: dict[KeyPath, int] = {}
    if path.suffix.lower() == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(name, (), f"not valid TOML: {exc}") from None
        lines = _toml_lines(text, data)
    else:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise MappingError(name, (), f"not valid YAML: {problem}", line) from None
        if node is not None:
            _yaml_lines(node, (), lines, name)
    reader = _Reader(path, lines)
    if data is None:
        raise MappingError(name, (), "the mapping file is empty")
    doc = reader.table(data, (), TOP_KEYS)
    if "version" in doc and doc["version"] != 1:
        raise reader.error(("version",), f"version {doc['version']!r} is not supported (1 is)")

    raw_maps = reader.table(doc.get("maps", {}), ("maps",), None)
    maps: dict[str, ValueMap] = {}
    for map_name, raw in raw_maps.items():
        key: KeyPath = ("maps", map_name)
        spec = reader.table(raw, key, ("values", "default", "unmapped", "ignore_case"))
        values = reader.table(spec.get("values"), (*key, "values"), None)
        clean: dict[str, str | None] = {}
        for code, target in values.items():
            value = _scalar(reader, target, (*key, "values", code))
            clean[str(code)] = None if value is None else str(value)
        default = spec.get("default")
        if default is not None:
            default = str(_scalar(reader, default, (*key, "default")))
        unmapped = "default" if default is not None else "reject"
        if "unmapped" in spec:
            unmapped = reader.choice(spec["unmapped"], (*key, "unmapped"), UNMAPPED_ACTIONS)
            if unmapped == "default" and default is None:
                raise reader.error((*key, "unmapped"), "unmapped: default needs a default")
        ignore_case = reader.flag(spec.get("ignore_case", False), (*key, "ignore_case"))
        maps[str(map_name)] = ValueMap(str(map_name), clean, default, unmapped, ignore_case)

    joins: list[JoinSpec] = []
    raw_joins = doc.get("joins", [])
    if not isinstance(raw_joins, list):
        raise reader.error(("joins",), f"expected a list of joins, got {_kind(raw_joins)}")
    join_keys = ("name", "key", "on", "file", "required", *INPUT_KEYS)
    for index, raw in enumerate(raw_joins):
        key = ("joins", index)
        spec = reader.table(raw, key, join_keys)
        for needed in ("name", "key"):
            if needed not in spec:
                raise reader.error(key, f"a join needs {needed!r}")
        join_name = reader.text(spec["name"], (*key, "name"))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", join_name):
            raise reader.error((*key, "name"), "a join's name is a word (letters, digits, _)")
        if any(j.name == join_name for j in joins):
            raise reader.error((*key, "name"), f"two joins are named {join_name!r}")
        join_key = reader.text(spec["key"], (*key, "key"))
        join = JoinSpec(join_name, join_key, reader.text(spec.get("on", join_key), (*key, "on")))
        if "file" in spec:
            join.file = path.parent / reader.text(spec["file"], (*key, "file"))
        join.required = reader.flag(spec.get("required", False), (*key, "required"))
        join.input = _input_spec(reader, {k: spec[k] for k in INPUT_KEYS if k in spec}, key)
        joins.append(join)

    mapping = Mapping(
        path=path,
        input=_input_spec(reader, doc.get("input", {}), ("input",)),
        joins=joins,
        maps=maps,
        fields=[],
        segments={},
    )
    if "segment_type" in doc:
        mapping.segment_type = reader.choice(doc["segment_type"], ("segment_type",), SEGMENT_TYPES)

    user = reader.table(doc.get("user", {}), ("user",), None)
    for field_name, raw in user.items():
        key = ("user", field_name)
        if field_name not in USER_FIELDS:
            raise reader.error(key, _unknown("Alma user field", str(field_name), list(USER_FIELDS)))
        spec_value = reader.value_spec(raw, key, maps)
        if spec_value.date_format and USER_FIELDS[field_name] is not Kind.DATE:
            raise reader.error((*key, "date_format"), f"{field_name} is not a date field")
        mapping.fields.append((str(field_name), spec_value))
    built: set[str] = set()
    for field_name, spec_value in mapping.fields:
        for ref in spec_value.expr.fields if spec_value.expr else []:
            if ref not in built:
                why = "is not set above it" if ref in USER_FIELDS else "is not a user field"
                raise reader.error(("user", field_name), f"@{ref} {why}")
        built.add(field_name)

    scopes = {j.name for j in joins}
    for kind in SEGMENTS:
        raw_list = doc.get(kind, [])
        if isinstance(raw_list, AbcMapping):
            raw_list = [raw_list]
        if not isinstance(raw_list, list):
            raise reader.error((kind,), f"expected a list of {kind}, got {_kind(raw_list)}")
        entries = [
            _segment(reader, kind, raw, (kind, index), maps, scopes)
            for index, raw in enumerate(raw_list)
        ]
        if entries:
            mapping.segments[kind] = entries
    if not mapping.fields and not mapping.segments:
        raise reader.error(("user",), "the mapping sets no field: add user fields")
    return mapping
