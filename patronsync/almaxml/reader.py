"""Streaming reader for Alma User XML v2 feeds: lenient by default, strict on request.

Two ways through a feed. `iter_users` parses every user into the model. `iter_raw_users` is the
sync engine's fast path: it hashes each ``<user>``'s bytes and extracts only the values needed to
match it (primary ID and identifiers); `RawUser.parse()` parses fully when the hash changed. A
plain document is cut into its users at the byte level (`splitter`), and a user whose hash the
caller already knows is not parsed at all; any other document goes through lxml's pull parser.

Memory stays flat however large the feed: each ``<user>`` is cleared, with its preceding
siblings, as soon as it has been read. File-level problems (not well-formed XML, a refused zip,
a broken zip entry) do not raise: they are collected on the reader's `problems` list, and reading
goes on with the next zip entry. Such a problem gives the line where the parser stopped, what
first stopped it (an undefined entity by its name), and the user being read, if its primary ID
had been read.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any, Generic, TypeVar, cast

from lxml import etree

from patronsync.almaxml.decode import Issues, decode_user, local_name
from patronsync.almaxml.errors import FeedError, Problem
from patronsync.almaxml.model import User
from patronsync.almaxml.sources import DEFAULT_LIMITS, Limits, Part, Source, iter_parts
from patronsync.almaxml.splitter import (
    NotSimple,
    quick_identifiers,
    quick_primary_id,
    split_users,
)
from patronsync.almaxml.validation import root_problems, validate_user

CHUNK_SIZE = 64 * 1024
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
_SAFE_PARSER = etree.XMLParser(**_PARSER_OPTIONS)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_:]")


@dataclass(frozen=True, slots=True)
class Position:
    """Where a user is: file, zip entry (or None), line of ``<user>``, 1-based ordinal."""

    file: str
    entry: str | None
    line: int
    ordinal: int

    def __str__(self) -> str:
        return ":".join(p for p in (self.file, self.entry, str(self.line)) if p)


@dataclass(slots=True)
class ParsedUser:
    """A user read from a feed, with where it was, its raw hash and its problems.

    `raw_hash` is the blake2b-128 hex digest of the ``<user>`` element's bytes: as they are in
    the file when the document is plain and read leniently (see `splitter`), as serialized by
    lxml in UTF-8 otherwise. It changes whenever the bytes do. A user with an error problem
    should not be loaded.
    """

    user: User
    position: Position
    raw_hash: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity error."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of severity warning."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when the user has no error."""
        return not any(p.severity == "error" for p in self.problems)


UNREAD: Any = False  # a primary ID not read off the bytes yet (a read one is a str or None)


@dataclass(slots=True)
class RawUser:
    """A user that has been hashed but not parsed: the sync engine's fast path.

    `raw` keeps the element's bytes, so `parse()` works long after the element was cleared.
    `decoded` holds what the reader's `decode` hook made of the element, if it was given one.
    `primary_id` and `identifiers` ((id_type, value) pairs, blank values left out) are read off
    the bytes when first asked for, unless the reader read them already (`cached_primary_id`
    and `cached_identifiers` hold what has been read: UNREAD and None until then).
    `known_patron` is for the caller to set: the id of the stored user these very bytes were
    last loaded into, when it knows one (0 otherwise).
    """

    position: Position
    raw_hash: str
    raw: bytes
    strict: bool = False
    decoded: Any = None
    cached_primary_id: str | None = UNREAD
    cached_identifiers: list[tuple[str, str]] | None = None
    known_patron: int = 0

    @property
    def primary_id(self) -> str | None:
        """The primary ID: the last non-blank ``primary_id`` child, trimmed; None if none."""
        if self.cached_primary_id is UNREAD:
            try:
                self.cached_primary_id = quick_primary_id(self.raw)
            except NotSimple:
                self._read_values()
        return self.cached_primary_id

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        """The (id_type, value) pairs of ``user_identifiers``, blank values left out."""
        if self.cached_identifiers is None:
            try:
                self.cached_identifiers = quick_identifiers(self.raw)
            except NotSimple:
                self._read_values()
        return self.cached_identifiers  # type: ignore[return-value]

    def _read_values(self) -> None:
        elem = etree.fromstring(self.raw, _SAFE_PARSER)
        self.cached_primary_id, self.cached_identifiers = _match_values(elem)

    def parse(self) -> ParsedUser:
        """Parse the user fully, with the same problems `iter_users` would report."""
        elem = etree.fromstring(self.raw, _SAFE_PARSER)
        return _parse_element(elem, self.position, self.raw_hash, self.strict, self.position.line)


@dataclass(slots=True)
class PartSummary:
    """What was read from one XML document: users found, and whether it was read to the end."""

    file: str
    entry: str | None
    users: int = 0
    complete: bool = False


def _text(elem: Any) -> str | None:
    if elem is None:
        return None
    text = elem.text
    return (text.strip() or None) if text else None


def _parse_element(
    elem: Any, position: Position, raw_hash: str, strict: bool, line_base: int
) -> ParsedUser:
    issues = Issues(line_offset=line_base - (elem.sourceline or 1))
    user = decode_user(elem, issues)
    if strict:
        validate_user(elem, issues)
    problems = issues.problems(file=position.file, entry=position.entry, primary_id=user.primary_id)
    return ParsedUser(user, position, raw_hash, problems)


def _match_values(elem: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """The primary ID and the identifiers, read straight off the element tree.

    One pass over the children: twice as fast as lxml's path search on a plain feed.
    """
    primary_id = None
    identifiers: list[tuple[str, str]] = []
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = tag if tag[0] != "{" else local_name(tag)
        if name == "primary_id":
            primary_id = _text(child) or primary_id  # as the model: the last one given
        elif name == "user_identifiers":
            for ident in child:
                ident_tag = ident.tag
                if not isinstance(ident_tag, str) or local_name(ident_tag) != "user_identifier":
                    continue
                id_type = value = None
                for sub in ident:
                    sub_tag = sub.tag
                    if not isinstance(sub_tag, str):
                        continue
                    sub_name = sub_tag if sub_tag[0] != "{" else local_name(sub_tag)
                    if sub_name == "value":
                        value = _text(sub) or value
                    elif sub_name == "id_type":
                        id_type = _text(sub) or id_type
                if value:
                    identifiers.append((id_type or "", value))
    return primary_id, identifiers


def _forget(elem: Any) -> None:
    """Free a user's element, and its preceding siblings, once it has been read."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
_PARSER_DOMAIN = etree.ErrorDomains.PARSER
_UNDEFINED_ENTITY = re.compile(r"Entity '([^']*)' not defined")


def _first_parser_error(exc: etree.XMLSyntaxError) -> Any:
    """The parser's first error since the document began (the reader clears the log then).

    lxml's pull parser raises later, and often about a consequence: an undefined entity stops
    libxml2 at once, and what is raised is "no element found" at line 0. The first entry of
    the log says what stopped it, and where.
    """
    for entry in cast("Iterable[Any]", exc.error_log):  # (lxml-stubs omit the log's entries)
        if entry.domain == _PARSER_DOMAIN and entry.level >= etree.ErrorLevels.ERROR:
            return entry
    return None


def _syntax_problem(part: Part, exc: etree.XMLSyntaxError, user: str | None) -> Problem:
    """A document that is not well-formed, in plain words, at the line where it stops."""
    first = _first_parser_error(exc)
    msg, line = (first.message, first.line) if first is not None else (exc.msg, exc.lineno)
    msg = (msg or str(exc)).split("\n")[0].strip()
    if entity := _UNDEFINED_ENTITY.fullmatch(msg):
        msg = (
            f"undefined entity &{entity[1]}; (a feed has no DOCTYPE to define entities: write "
            "the character itself, or a character reference such as &#160; for a no-break "
            "space; only &amp; &lt; &gt; &quot; &apos; are predefined)"
        )
    elif "encoding" in msg or "UTF-8" in msg:
        msg += " (the bytes do not match the declared encoding; UTF-8 unless declared)"
    return Problem(
        "error", "XML_NOT_WELL_FORMED", f"not well-formed XML: {msg}",
        part.file, part.entry, line or None, user,
    )  # fmt: skip


def _unreadable_problem(part: Part, exc: Exception, user: str | None) -> Problem:
    msg = f"zip entry cannot be read: {exc}"
    return Problem("error", "ZIP_CORRUPT", msg, part.file, part.entry, primary_id=user)


def _open_user_id(elem: Any) -> str | None:
    """The primary ID of a ``<user>`` the parser stopped inside, if it had been read whole.

    A ``primary_id`` counts once something follows its end tag (an element or text): the
    parser may have stopped inside it, leaving only the start of the value.
    """
    if elem is None:
        return None
    primary_id = None
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str) or local_name(tag) != "primary_id":
            continue
        if child.getnext() is not None or child.tail is not None:
            primary_id = _text(child) or primary_id  # as the model: the last one given
    return primary_id


T = TypeVar("T", ParsedUser, RawUser)


class FeedReader(Generic[T]):
    """An iterator over a feed's users; file-level problems collect in `problems`.

    `parts` lists each XML document read (file or zip entry) with its user count.
    """

    def __init__(
        self,
        source: Source,
        *,
        strict: bool,
        name: str | None,
        limits: Limits,
        raw: bool,
        decode: Callable[[Any], Any] | None = None,
        known: Container[str] | None = None,
    ) -> None:
        self.source = source
        self.strict = strict
        self.name = name
        self.limits = limits
        self.raw = raw
        self.decode = decode
        self.known = known
        self.problems: list[Problem] = []
        self.parts: list[PartSummary] = []
        self._iter: Iterator[Any] = self._read()

    def __iter__(self) -> FeedReader[T]:
        return self

    def __next__(self) -> T:
        item: T = next(self._iter)
        return item

    def _read(self) -> Iterator[Any]:
        parts = iter_parts(self.source, name=self.name, limits=self.limits, problems=self.problems)
        while True:
            try:
                part = next(parts)
            except StopIteration:
                return
            except FeedError as exc:
                self.problems.append(exc.problem)
                return
            summary = PartSummary(part.file, part.entry)
            self.parts.append(summary)
            try:
                yield from self._read_part(part, summary)
                summary.complete = True
            except FeedError as exc:
                self.problems.append(exc.problem)
            except etree.XMLSyntaxError as exc:
                self.problems.append(_syntax_problem(part, exc, None))
            except _UNREADABLE as exc:
                self.problems.append(_unreadable_problem(part, exc, None))

    def _problem(
        self, part: Part, code: str, message: str, line: int | None, user: str | None = None
    ) -> FeedError:
        return FeedError(Problem("error", code, message, part.file, part.entry, line, user))

    def _check_document(self, part: Part, elem: Any, prolog: bytes) -> None:
        """Refuse a DOCTYPE; in strict mode check the root element."""
        if b"<!DOCTYPE" in prolog or elem.getroottree().docinfo.doctype:
            msg = "DOCTYPE and entity declarations are not allowed (XXE and entity-expansion risk)"
            raise self._problem(part, "XML_DOCTYPE", msg, 1)
        if self.strict:
            root = elem.getroottree().getroot()
            for code, msg in root_problems(root):
                self.problems.append(
                    Problem("error", code, msg, part.file, part.entry, root.sourceline)
                )

    def _read_part(self, part: Part, summary: PartSummary) -> Iterator[Any]:
        if not self.strict:
            try:
                yield from self._split_part(part, summary)
                return
            except NotSimple:
                pass  # read it with the parser, after the users already given
        yield from self._parse_part(part, summary, skip=summary.users)

    def _split_part(self, part: Part, summary: PartSummary) -> Iterator[Any]:
        """A plain document's users, cut at the byte level (see `splitter`); or NotSimple.

        Each user's bytes are parsed on their own, except (raw mode) those whose hash is in
        `known`, whose match values are read off the bytes when asked for. A user the parser
        refuses hands the document to `_parse_part`, which reports the problem where the
        parser meets it.
        """
        raw_mode, known, decode, strict = self.raw, self.known, self.decode, self.strict
        for line, raw in split_users(part.open(), self.limits.max_user_bytes):
            digest = blake2b(raw, digest_size=16).hexdigest()
            position = Position(part.file, part.entry, line, summary.users + 1)
            if raw_mode and known is not None and digest in known:
                item: Any = RawUser(position, digest, raw, strict)
            else:
                try:
                    elem = etree.fromstring(raw, _SAFE_PARSER)
                except etree.XMLSyntaxError:
                    raise NotSimple("a user the parser refuses") from None
                if raw_mode:
                    item = RawUser(position, digest, raw, strict)
                    item.cached_primary_id, item.cached_identifiers = _match_values(elem)
                    if decode is not None:
                        item.decoded = decode(elem)
                else:
                    item = _parse_element(elem, position, digest, strict, line)
            summary.users += 1
            yield item

    def _parse_part(self, part: Part, summary: PartSummary, skip: int) -> Iterator[Any]:
        """Read a document with lxml's pull parser; the first `skip` users are not given.

        A document that cannot be read to its end raises FeedError, naming the user the parser
        was inside (see `_open_user_id`) and what first stopped it.
        """
        stream = part.open()
        parser = etree.XMLPullParser(events=("start", "end"), tag="{*}user", **_PARSER_OPTIONS)
        limit = self.limits.max_user_bytes
        raw_mode, strict, decode = self.raw, self.strict, self.decode
        fed = depth = start_at = ordinal = line = 0
        prolog = b""
        checked = False
        current: Any = None  # the <user> being read
        etree.clear_error_log()  # so that the log's first error is this document's
        try:
            while True:
                chunk = stream.read(CHUNK_SIZE)
                if not checked and not prolog:
                    match = _FIRST_ELEMENT.search(chunk)
                    prolog = chunk[: match.start()] if match else chunk
                    if b"<!DOCTYPE" in prolog:
                        raise self._problem(
                            part, "XML_DOCTYPE", "DOCTYPE declarations are not allowed", 1
                        )
                if not chunk:
                    root: Any = parser.close()
                    if not checked:
                        self._check_document(part, root, prolog)
                    return
                parser.feed(chunk)
                fed += len(chunk)
                events: Iterator[tuple[str, Any]] = parser.read_events()  # type: ignore[assignment]
                for event, elem in events:
                    if event == "start":
                        depth += 1
                        if depth == 1:
                            start_at = fed - len(chunk)
                            line, current = elem.sourceline, elem
                            if not checked:
                                self._check_document(part, elem, prolog)
                                checked = True
                        continue
                    depth -= 1
                    if depth:
                        continue
                    ordinal += 1
                    if ordinal <= skip:
                        _forget(elem)
                        continue
                    summary.users = ordinal
                    raw = etree.tostring(elem, encoding="utf-8", with_tail=False)  # as in files
                    position = Position(part.file, part.entry, line, ordinal)
                    if len(raw) > limit:
                        msg = f"<user> element is {len(raw):,} bytes, over the limit of {limit:,}"
                        user = _match_values(elem)[0]
                        raise self._problem(part, "USER_TOO_LARGE", msg, line, user)
                    digest = blake2b(raw, digest_size=16).hexdigest()
                    if raw_mode:
                        primary_id, identifiers = _match_values(elem)
                        item: Any = RawUser(position, digest, raw, strict)
                        item.cached_primary_id, item.cached_identifiers = primary_id, identifiers
                        if decode is not None:
                            item.decoded = decode(elem)
                    else:
                        item = _parse_element(elem, position, digest, strict, line)
                    _forget(elem)
                    yield item
                if depth and fed - start_at > limit + CHUNK_SIZE:
                    msg = f"<user> element is over the limit of {limit:,} bytes"
                    raise self._problem(part, "USER_TOO_LARGE", msg, line, _open_user_id(current))
        except etree.XMLSyntaxError as exc:
            user = _open_user_id(current) if depth else None
            raise FeedError(_syntax_problem(part, exc, user)) from None
        except _UNREADABLE as exc:
            user = _open_user_id(current) if depth else None
            raise FeedError(_unreadable_problem(part, exc, user)) from None


def iter_users(
    source: Source,
    *,
    strict: bool = False,
    name: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> FeedReader[ParsedUser]:
    """Read every user of `source` (an XML or zip path, bytes, or a binary file) into the model.

    Lenient by default (see docs/file-format.md); `strict` also validates each user against
    rest_user.xsd. `name` names the source in problems. Iterate the returned reader, then look at
    its `problems` for file-level failures and its `parts` for per-file user counts.
    """
    return FeedReader(source, strict=strict, name=name, limits=limits, raw=False)


def iter_raw_users(
    source: Source,
    *,
    strict: bool = False,
    name: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    decode: Callable[[Any], Any] | None = None,
    known: Container[str] | None = None,
) -> FeedReader[RawUser]:
    """Hash each user of `source` and extract its match values, without parsing it fully.

    The fast path for synchronization: compare `raw_hash` with the stored one and call
    `RawUser.parse()` only when it differs. `strict` applies when `parse()` is called.
    `decode`, if given, is called with each ``<user>`` element before it is cleared, and what it
    returns is kept as `RawUser.decoded`: a caller that needs every user decoded its own way
    spares parsing the bytes a second time.

    `known` holds raw hashes of users whose very bytes parsed cleanly before (a Synchronize
    passes the hashes it stored). In a plain document such a user is not parsed again, so it is
    neither checked nor decoded (`decoded` stays None); a caller must not put in `known` a hash
    whose bytes it has not seen parse.
    """
    return FeedReader(
        source, strict=strict, name=name, limits=limits, raw=True, decode=decode, known=known
    )
