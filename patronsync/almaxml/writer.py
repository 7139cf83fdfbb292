"""Write users as Alma User XML v2: a streamed ``<users>`` file, or one ``<user>`` document."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, Any

from lxml import etree

from patronsync.almaxml.errors import FeedError, Problem
from patronsync.almaxml.model import User
from patronsync.almaxml.schema import USER, Kind, Spec
from patronsync.almaxml.values import format_bool, format_date

_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


def _encode(obj: Any, spec: Spec, elem: Any) -> None:
    """Append `obj`'s fields to `elem` in the XSD's order; absent fields are left out."""
    for attr in spec.attrs:
        value = getattr(obj, attr.name)
        if value is not None:
            elem.set(attr.name, format_bool(value) if attr.is_bool else value)
    sub = etree.SubElement
    for f in spec.fields:
        kind = f.kind
        if kind is Kind.GROUP:
            assert f.spec is not None
            if any(getattr(obj, g.name) for g in f.spec.fields):
                _encode(obj, f.spec, sub(elem, f.name))
            continue
        value = getattr(obj, f.name)
        if kind is Kind.TEXT or kind is Kind.DATETIME:
            if value is not None:
                sub(elem, f.name).text = value
        elif kind is Kind.CODE:
            if value is not None:
                child = sub(elem, f.name)
                child.text = value.value
                if value.desc is not None:
                    child.set("desc", value.desc)
        elif kind is Kind.DATE:
            if value is not None:
                sub(elem, f.name).text = format_date(value)
        elif kind is Kind.BOOL:
            if value is not None:
                sub(elem, f.name).text = format_bool(value)
        elif kind is Kind.COUNT:
            if value is not None:
                child = sub(elem, f.name)
                child.text = value.value
                if value.link is not None:
                    child.set("link", value.link)
        elif kind is Kind.CODES:
            wrapper = sub(elem, f.name)
            for code in value:
                child = sub(wrapper, f.item or f.name)
                child.text = code.value
                if code.desc is not None:
                    child.set("desc", code.desc)
        elif kind is Kind.LIST:
            if value:
                assert f.spec is not None
                wrapper = sub(elem, f.name)
                for item in value:
                    _encode(item, f.spec, sub(wrapper, f.item or f.name))
        elif kind is Kind.RAW and value is not None:
            elem.append(etree.fromstring(value, _SAFE_PARSER))


def user_element(user: User) -> Any:
    """The ``<user>`` element for `user` (no namespace), children in the XSD's order."""
    elem = etree.Element("user")
    _encode(user, USER, elem)
    return elem


def user_to_xml(user: User) -> bytes:
    """One user as a UTF-8 XML document whose root is ``<user>``."""
    return etree.tostring(
        user_element(user), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )


def user_from_xml(data: bytes) -> User:
    """Read a document whose root is one ``<user>`` (any namespace), leniently.

    Raises FeedError when the bytes are not well-formed XML, carry a DOCTYPE, have another root,
    or when the user has an error (a bad date or boolean, nothing to identify it by).
    """
    from patronsync.almaxml.decode import Issues, decode_user, local_name

    try:
        root: Any = etree.fromstring(data, _SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        line: Any = exc.lineno
        raise FeedError(Problem("error", "XML_NOT_WELL_FORMED", str(exc), line=line)) from exc
    if root.getroottree().docinfo.doctype:
        raise FeedError(Problem("error", "XML_DOCTYPE", "DOCTYPE declarations are not allowed"))
    if local_name(root.tag) != "user":
        msg = f"root element is <{local_name(root.tag)}>, expected <user>"
        raise FeedError(Problem("error", "XML_WRONG_ROOT", msg, line=root.sourceline))
    issues = Issues()
    user = decode_user(root, issues)
    for problem in issues.problems(file=None, entry=None, primary_id=user.primary_id):
        if problem.is_error:
            raise FeedError(problem)
    return user


def write_users(
    users: Iterable[User],
    target: str | os.PathLike[str] | IO[bytes],
    *,
    total_record_count: int | None = None,
) -> int:
    """Stream `users` into a ``<users>`` document at `target`; returns the number written.

    Memory stays flat: each user is serialized and dropped before the next is built.
    """
    count = 0
    attrs = {} if total_record_count is None else {"total_record_count": str(total_record_count)}
    path_or_file: Any = os.fspath(target) if isinstance(target, str | os.PathLike) else target
    with etree.xmlfile(path_or_file, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("users", attrs):
            xf.write("\n")
            for user in users:
                xf.write(user_element(user), pretty_print=True)
                count += 1
    return count
