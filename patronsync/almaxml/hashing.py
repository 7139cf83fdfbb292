"""Content hash of a user: equal for the same data, whatever the XML looked like.

`content_hash` backs up the raw hash in synchronization: when a user's bytes changed, the sync
engine compares content hashes before it calls the user "updated". The hash is blake2b-128 over a
canonical JSON serialization of the user's JSON form (see `jsonform`), with these rules:

* whitespace around values and between elements does not count (the reader trims it);
* the order of children does not count, nor the order of segments in a list: each list
  (addresses, emails, identifiers, notes, type lists, role parameters...) is compared as a
  sorted multiset, so duplicates still count;
* ``desc`` attributes do not count: they describe a code, they are not data;
* date spellings do not count (``2024-01-31`` = ``2024-01-31Z``), nor boolean spellings;
* everything else counts, including the case of the primary ID (Alma matches primary IDs
  case-insensitively, but a change of case is still a change to store), preferred flags and
  segment types. The researcher block is compared with blank text between its elements removed.
"""

from __future__ import annotations

import json
from hashlib import blake2b
from typing import Any

from lxml import etree

from patronsync.almaxml.jsonform import user_to_json
from patronsync.almaxml.model import User

_BLANK_PARSER = etree.XMLParser(
    remove_blank_text=True, resolve_entities=False, no_network=True, load_dtd=False
)


def _canonical(value: Any) -> Any:
    """Drop ``desc`` keys and sort every list by its canonical JSON text."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if k != "desc"}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if len(items) < 2:
            return items
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    return value


def canonical_form(user: User, json_form: dict[str, Any] | None = None) -> dict[str, Any]:
    """The normalized dict that `content_hash` hashes (useful to explain a difference).

    Pass the user's JSON form if you already have it, to spare converting it again.
    """
    data = _canonical(user_to_json(user) if json_form is None else json_form)
    if user.researcher:
        elem = etree.fromstring(user.researcher.encode(), _BLANK_PARSER)
        data["researcher"] = etree.tostring(elem, method="c14n").decode()
    return data


def content_hash(user: User, json_form: dict[str, Any] | None = None) -> str:
    """blake2b-128 hex digest of the user's canonical form (see `canonical_form`)."""
    canonical = canonical_form(user, json_form)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return blake2b(text.encode(), digest_size=16).hexdigest()
