"""Strict mode: validate each ``<user>`` against the real rest_user.xsd, one user at a time.

Validating user by user (the XSD declares ``user`` as a global element) keeps strict mode
streaming: a huge file never has to be held in memory as one document.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from lxml import etree

from patronsync.almaxml.decode import Issues, local_name

XSD_DIR = Path(__file__).with_name("xsd")
_ELEMENT = re.compile(r"^Element '(?:\{[^}]*\})?([^']+)'(?:, attribute '([^']+)')?: ")


@functools.cache
def users_schema() -> etree.XMLSchema:
    """rest_users.xsd (which includes rest_user.xsd and rest_researcher.xsd), loaded offline."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(XSD_DIR / "rest_users.xsd"), parser))


def validate_user(elem: Any, issues: Issues) -> None:
    """Record every XSD violation in the ``<user>`` element `elem` as an error."""
    if elem.tag != "user":
        msg = f"<user> is in namespace {elem.tag[1:].partition('}')[0]!r}; expected none"
        issues.add("error", "SCHEMA_NAMESPACE", elem, "user", msg)
        return
    schema = users_schema()
    if schema.validate(elem):
        return
    errors: Any = schema.error_log
    for err in errors:
        message = err.message
        match = _ELEMENT.match(message)
        field = None
        if match:
            field = match.group(2) or match.group(1)
            message = message[match.end() :]
            where = f"<{match.group(1)}>"
            if match.group(2):
                where += f" attribute {match.group(2)}"
            message = f"{where}: {message}"
        message = message.rstrip(".").replace(" ( ", " (").replace(" ).", ").")
        line = err.line + issues.line_offset if err.line else None
        issues.found.append(("error", "SCHEMA_INVALID", field or "user", line, message))


def root_problems(root: Any) -> list[tuple[str, str]]:
    """Strict checks on the document root: ``<users>``, no namespace, a numeric count."""
    found: list[tuple[str, str]] = []
    tag = root.tag
    if tag != "users":
        msg = f"root element is <{local_name(tag)}>" + (
            f" in namespace {tag[1:].partition('}')[0]!r}" if tag.startswith("{") else ""
        )
        found.append(("SCHEMA_ROOT", msg + ", expected <users> without a namespace"))
    count = root.get("total_record_count")
    if count is not None and not re.fullmatch(r"\s*[+-]?\d+\s*", count):
        found.append(("SCHEMA_INVALID", f"total_record_count {count!r} is not a number"))
    return found
