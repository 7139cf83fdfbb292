"""Alma User XML v2 and JSON codec: streaming reader, writer, XSD validation, content hash.

Pure Python and lxml; nothing here touches Django or the database.
"""

from patronsync.almaxml.errors import FeedError, Problem
from patronsync.almaxml.model import (
    Address,
    Block,
    Code,
    Count,
    Email,
    Identifier,
    LibraryNotice,
    Note,
    Phone,
    ProxyForUser,
    Role,
    RoleParameter,
    RsLibrary,
    Statistic,
    User,
)
from patronsync.almaxml.reader import (
    FeedReader,
    ParsedUser,
    PartSummary,
    Position,
    RawUser,
    iter_raw_users,
    iter_users,
)
from patronsync.almaxml.sources import DEFAULT_LIMITS, Limits
from patronsync.almaxml.writer import user_from_xml, user_to_xml, write_users

__all__ = [
    "DEFAULT_LIMITS",
    "Address",
    "Block",
    "Code",
    "Count",
    "Email",
    "FeedError",
    "FeedReader",
    "Identifier",
    "LibraryNotice",
    "Limits",
    "Note",
    "ParsedUser",
    "PartSummary",
    "Phone",
    "Position",
    "Problem",
    "ProxyForUser",
    "RawUser",
    "Role",
    "RoleParameter",
    "RsLibrary",
    "Statistic",
    "User",
    "iter_raw_users",
    "iter_users",
    "user_from_xml",
    "user_to_xml",
    "write_users",
]
