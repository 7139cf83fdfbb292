"""The mapping's expression language: a small, safe vocabulary parsed here (no ``eval``).

An expression is a column name, a literal, a reference to a field already built, or a call of one
of the functions in FUNCTIONS::

    concat(first_name, ' ', last_name)      upper(trim(`Last Name`))
    add_months(today(), 12)                 add_days(@expiry_date, 180)
    date(birth, '%m/%d/%Y')                 coalesce(preferred_email, email)

Values are strings, dates, booleans, integers or None ("empty"). An empty string is None, so
``coalesce`` and ``default`` skip blank cells the way a spreadsheet user expects.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

Value = str | date | bool | int | None


class ExpressionError(ValueError):
    """An expression that cannot be parsed: `position` is the 0-based offset of the fault."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class EvalError(ValueError):
    """A value the expression cannot work with (a date that does not parse): the row is bad.

    `rule` is the reject rule a report names (e.g. ``DATE_INVALID``).
    """

    def __init__(self, message: str, rule: str = "EXPRESSION_FAILED") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


@dataclass(slots=True)
class Scope:
    """What an expression sees while one row is converted.

    `row`: the input row (nested JSON objects stay dicts); `related`: each join's matched rows
    (and, inside ``for_each``, the current item under its name); `built`: the user's fields
    built so far (``@expiry_date``); `today`: the run's date, the same for every row;
    `maps`: applies a named value map (``map(x, 'programs')``).
    """

    row: Mapping[str, Any]
    related: dict[str, Any] = field(default_factory=dict)
    built: dict[str, Any] = field(default_factory=dict)
    today: date = field(default_factory=date.today)
    maps: Callable[[str, Value], Value] | None = None


Compiled = Callable[[Scope], Value]


# -- values -------------------------------------------------------------------------------


def as_text(value: Value) -> str | None:
    """A value as text: dates in ISO form, booleans as true/false; empty stays None."""
    if value is None:
        return None
    if type(value) is str:  # the common case, first
        return value if value != "" else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text if text != "" else None


def as_date(value: Value, fmt: str | None = None) -> date | None:
    """A value as a date: a date stays, text is read as `fmt` (strptime) or ISO ``YYYY-MM-DD``."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        if fmt:
            return datetime.strptime(text, fmt).date()
        if len(text) > 10 and text[10] in "TZ+ ":
            text = text[:10]
        return date.fromisoformat(text)
    except ValueError:
        expected = f"format {fmt!r}" if fmt else "YYYY-MM-DD"
        raise EvalError(f"{text!r} is not a date (expected {expected})", "DATE_INVALID") from None


def as_bool(value: Value) -> bool:
    """A value as a condition: true/yes/y/1 are true, false/no/n/0 and empty are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    low = str(value).strip().lower()
    if low in ("true", "yes", "y", "1", "t"):
        return True
    if low in ("false", "no", "n", "0", "f", ""):
        return False
    raise EvalError(f"{value!r} is not a yes/no value (true/false, yes/no, 1/0)", "NOT_A_BOOLEAN")


def _int(value: Value, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise EvalError(f"{what} {value!r} is not a whole number", "NOT_A_NUMBER") from None


def _empty_to_none(text: str) -> str | None:
    return text if text != "" else None


# -- functions ----------------------------------------------------------------------------


def _concat(*parts: Value) -> Value:
    return _empty_to_none("".join(as_text(p) or "" for p in parts))


def _join(sep: Value, *parts: Value) -> Value:
    return _empty_to_none((as_text(sep) or "").join(t for p in parts if (t := as_text(p))))


def _str_fn(fn: Callable[[str], str]) -> Callable[[Value], Value]:
    def apply(value: Value) -> Value:
        text = as_text(value)
        return None if text is None else _empty_to_none(fn(text))

    return apply


def _substr(value: Value, start: Value, length: Value = None) -> Value:
    """1-based, as XSLT's substring(): substr('20240131', 5, 2) is '01'."""
    text = as_text(value)
    if text is None:
        return None
    begin = max(_int(start, "substr start") - 1, 0)
    if length is None:
        return _empty_to_none(text[begin:])
    return _empty_to_none(text[begin : begin + max(_int(length, "substr length"), 0)])


def _replace(value: Value, old: Value, new: Value) -> Value:
    text = as_text(value)
    if text is None:
        return None
    return _empty_to_none(text.replace(as_text(old) or "", as_text(new) or ""))


def _coalesce(*values: Value) -> Value:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _date(value: Value, fmt: Value = None) -> Value:
    return as_date(value, as_text(fmt))


def _format_date(value: Value, fmt: Value) -> Value:
    day = as_date(value)
    return None if day is None else day.strftime(as_text(fmt) or "%Y-%m-%d")


def _add_days(value: Value, days: Value) -> Value:
    from datetime import timedelta

    day = as_date(value)
    return None if day is None else day + timedelta(days=_int(days, "days"))


def _add_months(value: Value, months: Value) -> Value:
    """Calendar months; the day is clipped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    day = as_date(value)
    if day is None:
        return None
    index = day.year * 12 + day.month - 1 + _int(months, "months")
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _add_years(value: Value, years: Value) -> Value:
    return _add_months(value, _int(years, "years") * 12)


def _eq(left: Value, right: Value) -> Value:
    return as_text(left) == as_text(right)


def _if(condition: Value, then: Value, otherwise: Value = None) -> Value:
    return then if as_bool(condition) else otherwise


def _empty(value: Value) -> Value:
    return value is None or value == ""


def _digits(value: Value) -> Value:
    text = as_text(value)
    return None if text is None else _empty_to_none(re.sub(r"\D", "", text))


@dataclass(frozen=True, slots=True)
class Function:
    """One function of the vocabulary: its arity (`most` None: any number) and what it does."""

    fn: Callable[..., Value]
    least: int
    most: int | None
    summary: str


FUNCTIONS: dict[str, Function] = {
    "concat": Function(_concat, 1, None, "the texts one after the other"),
    "join": Function(_join, 2, None, "join(sep, a, b, ...): the non-empty texts, sep between"),
    "upper": Function(_str_fn(str.upper), 1, 1, "upper case"),
    "lower": Function(_str_fn(str.lower), 1, 1, "lower case"),
    "title": Function(_str_fn(str.title), 1, 1, "each word capitalized"),
    "trim": Function(
        _str_fn(lambda t: " ".join(t.split())), 1, 1, "spaces trimmed, runs of spaces made one"
    ),
    "substr": Function(_substr, 2, 3, "substr(x, start, length): 1-based, as XSLT"),
    "replace": Function(_replace, 3, 3, "replace(x, old, new): every occurrence"),
    "digits": Function(_digits, 1, 1, "only the digits (phone numbers)"),
    "coalesce": Function(_coalesce, 1, None, "the first non-empty value"),
    "default": Function(_coalesce, 2, 2, "default(x, y): x, or y when x is empty"),
    "date": Function(
        _date,
        1,
        2,
        "date(x, format): text read as a date (strptime format; ISO YYYY-MM-DD without one)",
    ),
    "format_date": Function(_format_date, 2, 2, "format_date(d, format): a date as text"),
    "today": Function(lambda: None, 0, 0, "the day of the run"),
    "add_days": Function(_add_days, 2, 2, "add_days(d, n)"),
    "add_months": Function(_add_months, 2, 2, "add_months(d, n): clipped to the month's end"),
    "add_years": Function(_add_years, 2, 2, "add_years(d, n)"),
    "eq": Function(_eq, 2, 2, "eq(a, b): true when the two read the same as text"),
    "empty": Function(_empty, 1, 1, "true when the value is empty"),
    "if": Function(_if, 2, 3, "if(condition, then, else)"),
    "map": Function(lambda v, name: v, 2, 2, "map(x, 'name'): x through a value map"),
}


# -- parsing ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+)
    | (?P<field>@[A-Za-z_][A-Za-z0-9_]*)
    | (?P<quoted>`[^`]*`(?:\.(?:`[^`]*`|[A-Za-z_][A-Za-z0-9_]*|\d+))*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:`[^`]*`|[A-Za-z_][A-Za-z0-9_]*|\d+))*)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


@dataclass(slots=True)
class Parsed:
    """A compiled expression, with the columns it reads (for reports) and the maps it uses."""

    source: str
    run: Compiled
    columns: list[tuple[str, ...]] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    maps: list[str] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        """The columns read, dotted (``addr.city``)."""
        return [".".join(c) for c in self.columns]


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"unexpected {text[pos:].strip()[:1]!r}", pos)
        kind = match.lastgroup or ""
        start = match.start(kind)
        out.append((kind, match.group(kind), start))
        pos = match.end()
    return out


def _path(token: str) -> tuple[str, ...]:
    parts = re.findall(r"`([^`]*)`|([A-Za-z_][A-Za-z0-9_]*|\d+)", token)
    return tuple(a or b for a, b in parts)


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _lookup(path: tuple[str, ...], scope: Scope) -> Value:
    """A column's value: a join's (first) row or a ``for_each`` item by name, else the row."""
    head = path[0]
    rest = path[1:]
    if rest and head in scope.related:
        value: Any = scope.related[head]
        if isinstance(value, list):
            value = value[0] if value else None
    else:
        value = scope.row
        rest = path
    for part in rest:
        if isinstance(value, list) and part.isdigit():
            # A JSON list by position, from 0: addresses.lines.0
            value = value[int(part)] if int(part) < len(value) else None
            continue
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if type(value) is str:  # the common case, first
        return None if value == "" else value
    if value is None or isinstance(value, str | bool | int | date):
        return None if value == "" else value
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return None if isinstance(value, Mapping | list) else str(value)


def parse_expression(text: str, *, known_maps: Sequence[str] | None = None) -> Parsed:
    """Parse `text` into a callable; raises ExpressionError naming the fault and its offset."""
    tokens = _tokens(text)
    if not tokens:
        raise ExpressionError("the expression is empty", 0)
    parsed = Parsed(text, lambda s: None)
    pos = 0

    def parse() -> Compiled:
        nonlocal pos
        if pos >= len(tokens):
            raise ExpressionError("the expression ends too early", len(text))
        kind, value, offset = tokens[pos]
        pos += 1
        if kind == "string":
            literal = _unquote(value)
            return lambda s: literal or None
        if kind == "number":
            number = int(value)
            return lambda s: number
        if kind == "field":
            name = value[1:]
            parsed.fields.append(name)
            return lambda s: s.built.get(name)
        if kind == "punct":
            raise ExpressionError(f"unexpected {value!r}", offset)
        is_call = pos < len(tokens) and tokens[pos][1] == "(" and kind == "name"
        if not is_call:
            path = _path(value)
            if kind == "name" and len(path) == 1 and path[0] in ("true", "false", "null"):
                constant: Value = {"true": True, "false": False, "null": None}[path[0]]
                return lambda s: constant
            parsed.columns.append(path)
            return lambda s: _lookup(path, s)
        return call(value, offset)

    def call(name: str, offset: int) -> Compiled:
        nonlocal pos
        function = FUNCTIONS.get(name)
        if function is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(f"unknown function {name!r} (known: {known})", offset)
        pos += 1  # "("
        args: list[Compiled] = []
        arg_offsets: list[int] = []
        if pos < len(tokens) and tokens[pos][1] == ")":
            pos += 1
        else:
            while True:
                arg_offsets.append(tokens[pos][2] if pos < len(tokens) else len(text))
                args.append(parse())
                if pos >= len(tokens):
                    raise ExpressionError(f"{name}( is not closed", len(text))
                sep = tokens[pos]
                pos += 1
                if sep[1] == ")":
                    break
                if sep[1] != ",":
                    raise ExpressionError(f"expected ',' or ')' in {name}(...)", sep[2])
        count = len(args)
        if count < function.least or (function.most is not None and count > function.most):
            want = (
                str(function.least)
                if function.most == function.least
                else f"{function.least} or more"
                if function.most is None
                else f"{function.least} to {function.most}"
            )
            raise ExpressionError(f"{name}() takes {want} arguments, not {count}", offset)
        fn = function.fn
        if name == "today":
            return lambda s: s.today
        if name == "map":
            map_token = tokens[pos - 2] if count == 2 else None
            if map_token is None or map_token[0] != "string":
                raise ExpressionError("map(x, 'name') needs the value map's name in quotes", offset)
            map_name = _unquote(map_token[1])
            if known_maps is not None and map_name not in known_maps:
                known = ", ".join(sorted(known_maps)) or "none"
                raise ExpressionError(
                    f"unknown value map {map_name!r} (defined: {known})", map_token[2]
                )
            parsed.maps.append(map_name)
            inner = args[0]

            def apply_map(s: Scope) -> Value:
                assert s.maps is not None
                return s.maps(map_name, inner(s))

            return apply_map
        if count == 1:
            only = args[0]
            return lambda s: fn(only(s))
        if count == 2:
            first, second = args
            return lambda s: fn(first(s), second(s))
        return lambda s: fn(*(a(s) for a in args))

    run = parse()
    if pos != len(tokens):
        raise ExpressionError(f"unexpected {tokens[pos][1]!r} after the expression", tokens[pos][2])
    parsed.run = run
    return parsed
