"""Cutting a plain feed into its ``<user>`` elements at the byte level, without parsing it.

A Synchronize mostly reads users that have not changed since the last run. Parsing them is most
of what reading costs (lxml builds every element of every user only for the engine to find the
same hash as yesterday). Most feeds are plain: one UTF-8 document, a root without a default
namespace and ``<user>`` elements separated by whitespace, with no comment, CDATA section or
processing instruction. Such a document can be cut into its users by searching the bytes for
``<user>`` and ``</user>``, which runs at the speed of ``bytes.find``.

`split_users` yields each user's line and bytes, and raises `NotSimple` as soon as the document
is anything else, so that the caller reads it with the XML parser instead. It checks the frame
(prolog, root, the whitespace between users, the end) but not the inside of a user: the caller
either parses a user's bytes or knows that the very same bytes parsed cleanly before.

`quick_primary_id` and `quick_identifiers` read a user's match values off its bytes, and answer
only when the bytes leave no doubt (one ``primary_id``, at the user's own level, no entity,
child element or namespace in the way): otherwise they raise NotSimple and the caller parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from lxml import etree

READ_SIZE = 256 * 1024
# The most that may follow the root's end tag (whitespace) before the splitter steps aside.
_TRAILER_BYTES = 64 * 1024

_ATTRS = rb"""(?:\s+[^\s=<>/"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*"""
_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?[ \t\r\n]*"
    rb"(?:<\?xml(?P<decl>" + _ATTRS + rb")\?>)?[ \t\r\n]*"
    rb"<(?P<root>[A-Za-z_][\w.-]*)(?P<attrs>" + _ATTRS + rb")>"
)
_DEFAULT_NAMESPACE = re.compile(rb"\sxmlns\s*=")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_UTF8 = {b"utf-8", b"utf8"}
_PROLOG_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_WHITESPACE = re.compile(rb"[ \t\r\n]*")
# The rest of a start tag after its name: attributes, then ``>`` or ``/>`` (group 1).
_TAG_TAIL = re.compile(_ATTRS + rb"(/?)>")
_USER_START = re.compile(rb"<user" + _ATTRS + rb"(/?)>")
_TAG_BYTES = 64 * 1024  # a start tag longer than this is not a plain feed's
# Inside a user: another <user> start tag, a comment, CDATA section, DOCTYPE or PI.
_INSIDE = re.compile(rb"<(?:user[\s/>]|[!?])")


class NotSimple(Exception):
    """The document is not plain enough to be cut at the byte level: parse it instead."""


def _prolog(head: bytes) -> tuple[bytes, int]:
    """The root element's name and where its start tag ends, or NotSimple."""
    match = _PROLOG.match(head)
    if match is None or match["root"] == b"user" or _DEFAULT_NAMESPACE.search(match["attrs"]):
        raise NotSimple("prolog or root element")
    encoding = _ENCODING.search(match["decl"] or b"")
    if encoding is not None and encoding[1].lower() not in _UTF8:
        raise NotSimple("not UTF-8")
    # Users are parsed on their own: the declaration and the root's start tag once, here.
    try:
        etree.fromstring(head[: match.end()] + b"</" + match["root"] + b">", _PROLOG_PARSER)
    except etree.XMLSyntaxError:
        raise NotSimple("prolog or root element the parser refuses") from None
    return match["root"], match.end()


def split_users(stream: IO[bytes], max_user_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Yield (line, bytes) for each ``<user>`` of a plain document, in order.

    `line` is the 1-based line of the ``<user>`` start tag. Raises NotSimple, possibly after
    some users were yielded, when the document needs the XML parser: a default namespace on
    the root, another encoding, a comment, CDATA section or processing instruction, a ``<user>``
    inside another, any other element or text between users, a user over `max_user_bytes`, or
    an end that is not the root's end tag.
    """
    buf = stream.read(READ_SIZE)
    eof = not buf
    while not eof and len(buf) < 4096:  # the prolog is in the first few bytes
        more = stream.read(READ_SIZE)
        eof = not more
        buf += more
    root, pos = _prolog(buf)
    line = 1 + buf.count(b"\n", 0, pos)
    closing = b"</" + root
    find, count = buf.find, buf.count
    while True:
        start = find(b"<", pos)
        if start >= 0:
            if _WHITESPACE.fullmatch(buf, pos, start) is None:
                raise NotSimple("text between users")
            if buf.startswith(closing, start):
                _check_end(buf, start, closing, stream)
                return
            tag = _USER_START.match(buf, start)
            if tag is not None:
                end = tag.end() if tag[1] else find(b"</user>", tag.end())
                if end >= 0:
                    end += 0 if tag[1] else 7
                    if end - start > max_user_bytes or _INSIDE.search(buf, start + 1, end):
                        raise NotSimple("unusual user element")
                    line += count(b"\n", pos, start)
                    yield line, buf[start:end]
                    line += count(b"\n", start, end)
                    pos = end
                    continue
            elif eof or len(buf) - start > _TAG_BYTES:
                raise NotSimple("an element other than <user>")
        # The next user (or the root's end) is not wholly in the buffer: read on.
        if eof:
            raise NotSimple("document ends inside an element")
        if len(buf) - pos > max_user_bytes + READ_SIZE:
            raise NotSimple("user over the size limit")
        more = stream.read(READ_SIZE)
        eof = not more
        buf = buf[pos:] + more
        pos = 0
        find, count = buf.find, buf.count


def _check_end(buf: bytes, start: int, closing: bytes, stream: IO[bytes]) -> None:
    """The root's end tag, then only whitespace to the end of the document."""
    rest = buf[start + len(closing) :] + stream.read(_TRAILER_BYTES)
    if stream.read(1) or re.fullmatch(rb"[ \t\r\n]*>[ \t\r\n]*", rest) is None:
        raise NotSimple("content after the root element")


def _depth(raw: bytes, lo: int, hi: int) -> int:
    """Elements opened minus elements closed in ``raw[lo:hi]``, a stretch of whole tags.

    Counted from ``<``, ``</`` and ``/>``: NotSimple unless every ``>`` there ends a tag (one
    in an attribute value or in text could fake an empty element's ``/>``).
    """
    tags = raw.count(b"<", lo, hi)
    if raw.count(b">", lo, hi) != tags:
        raise NotSimple("'>' in text or attribute")
    return tags - 2 * raw.count(b"</", lo, hi) - raw.count(b"/>", lo, hi)


def _user_child(raw: bytes, name: bytes) -> tuple[int, int] | None:
    """Where the content of the user's one child element `name` starts and ends (both at the
    end of the start tag for ``<name/>``).

    None when the user has no such element; NotSimple when there are several, it is not a
    direct child, or it does not end plainly (``</name >`` included).
    """
    start_tag = b"<" + name
    at = raw.find(start_tag)
    if at < 0:
        return None
    if raw.find(start_tag, at + 1) >= 0 or _depth(raw, 0, at) != 1:
        raise NotSimple(name.decode())
    tail = _TAG_TAIL.match(raw, at + len(start_tag))
    if tail is None:
        raise NotSimple(name.decode())
    if tail[1]:  # <name/>
        return tail.end(), tail.end()
    end_tag = b"</" + name + b">"
    end = raw.find(end_tag, tail.end())
    if end < 0 or raw.find(end_tag[:-1], tail.end(), end) >= 0:
        raise NotSimple(name.decode())
    return tail.end(), end


def _text(raw: bytes, span: tuple[int, int] | None) -> str | None:
    """The trimmed text of a content span, None when blank; NotSimple for child elements,
    entity and character references or carriage returns, which only the parser reads right."""
    if span is None:
        return None
    text = raw[span[0] : span[1]]
    if b"<" in text or b"&" in text or b"\r" in text:
        raise NotSimple("text")
    return text.decode().strip() or None


def _plain_user(raw: bytes) -> None:
    # A prefixed element could hide a match value under another name: prefixes other than
    # xml: need a declaration, which would say xmlns.
    if b"xml" in raw and (b"xmlns" in raw or b"<xml:" in raw):
        raise NotSimple("namespace")


# What the reader's element walk gives, read off the bytes of a user that `split_users` cut
# from a document that parsed (so: no comment, CDATA, processing instruction or undeclared
# prefix). Each raises NotSimple when the bytes are not plain enough to be sure: parse them.


def quick_primary_id(raw: bytes) -> str | None:
    """The user's primary ID (None when absent or blank), or NotSimple."""
    _plain_user(raw)
    try:
        return _text(raw, _user_child(raw, b"primary_id"))
    except UnicodeDecodeError:
        raise NotSimple("encoding") from None


def quick_identifiers(raw: bytes) -> list[tuple[str, str]]:
    """The user's (id_type, value) identifiers, blank values left out, or NotSimple."""
    _plain_user(raw)
    block = _user_child(raw, b"user_identifiers")
    identifiers: list[tuple[str, str]] = []
    if block is None:
        return identifiers
    at, hi = block
    try:
        # Each <user_identifier> holds only elements with plain text (or empty ones).
        while item := _IDENTIFIER_START.match(raw, at, hi):
            at = item.end()
            if item[1]:  # <user_identifier/>
                continue
            id_type = value = None
            while child := _LEAF.match(raw, at, hi):
                at = child.end()
                if child[1] == b"value":
                    value = _leaf_text(child) or value  # as the parser: the last one given
                elif child[1] == b"id_type":
                    id_type = _leaf_text(child) or id_type
            end = _IDENTIFIER_END.match(raw, at, hi)
            if end is None:
                raise NotSimple("user_identifier")
            at = end.end()
            if value:
                identifiers.append((id_type or "", value))
    except UnicodeDecodeError:
        raise NotSimple("encoding") from None
    if _WHITESPACE.fullmatch(raw, at, hi) is None:
        raise NotSimple("user_identifiers")
    return identifiers


_IDENTIFIER_START = re.compile(rb"[ \t\r\n]*<user_identifier" + _ATTRS + rb"(/?)>")
_IDENTIFIER_END = re.compile(rb"[ \t\r\n]*</user_identifier[ \t\r\n]*>")
# An element with plain text or none: name (group 1), text (group 2, None if empty).
_LEAF = re.compile(
    rb"[ \t\r\n]*<([A-Za-z_][\w.-]*)" + _ATTRS + rb"(?:/>|>([^<&\r]*)</\1[ \t\r\n]*>)"
)


def _leaf_text(leaf: re.Match[bytes]) -> str | None:
    text = leaf[2]
    return (text.decode().strip() or None) if text else None
