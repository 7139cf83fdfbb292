"""Search keys: a user's names and preferred email as staff type them, indexed for prefix search.

A user manager types "muller" and expects Müller, MÜLLER and Muller; "anna mul" and expects Anna
Müller. The store keeps, beside the names, their keys (`search_key`: compatibility-decomposed,
combining marks dropped, case-folded, spaces collapsed) in indexed columns, and a search asks
for keys that start with the typed words: an index range, never a scan of a million users.

The keys are filled in one place, `patron_fill_search_keys`, which the store's one writer
(`store.patrons_write`) calls for every user it writes, from a feed, the APIs or the pages.
Pure Python, no query: the engine pays a few microseconds a user.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from .limits import MAX_LENGTH

# Written without the apostrophe, as people type O'Brien: "obrien".
_DROPPED = str.maketrans("", "", "'\u2019`\u00b4")
# Read as spaces: a hyphenated or comma-separated name is words ("Müller-Lüdenscheidt, Anna").
_SPACES = str.maketrans({"-": " ", ",": " ", "\u2010": " ", "\u2013": " "})
# Letters that Unicode does not decompose into a base letter and a mark, read as people type them.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "\u0131": "i",
        "ħ": "h",
    }
)
SEARCH_KEY_FIELDS = ("last_name_key", "first_name_key", "email_key")


def search_key(text: str) -> str:
    """The form in which a name or email is searched: "  MÜLLER-Lüdenscheidt " gives
    "muller ludenscheidt", "Straße" gives "strasse", "ﬁne" gives "fine".

    At most MAX_LENGTH characters, so that the column always takes it.
    """
    if text.isascii():
        folded = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)
    words = folded.translate(_DROPPED).translate(_SPACES).split()
    return " ".join(words)[:MAX_LENGTH]


def preferred_email(segments: dict[str, Any]) -> str:
    """The user's preferred email address, or its first one; '' when it has none."""
    emails = segments.get("email") or []
    for item in emails:
        if item.get("preferred") and item.get("email_address"):
            return str(item["email_address"])
    for item in emails:
        if item.get("email_address"):
            return str(item["email_address"])
    return ""


def patron_fill_search_keys(patron: Any) -> None:
    """Set a `Patron`'s search keys from its names and preferred email, in memory."""
    patron.last_name_key = search_key(patron.last_name)
    patron.first_name_key = search_key(patron.first_name)
    patron.email_key = search_key(preferred_email(patron.segments))
