"""What a run knows across batches: the users the feed touched, and the hashes stored before."""

from __future__ import annotations

import base64
import operator
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from hashlib import blake2b
from itertools import accumulate, chain, islice


class TouchedUsers:
    """A bitmap over user ids: set when a feed record created, updated or matched a user.

    A later record of the same feed that lands on a touched user is a duplicate ("already taken
    in this feed"). A bitmap costs one bit per user id, 125 KB at a million users, and is saved in
    the job's checkpoint so that a resumed job still knows what the feed touched.
    """

    def __init__(self, data: bytes = b"") -> None:
        self._bits = bytearray(data)

    def add(self, patron_id: int) -> None:
        index = patron_id >> 3
        if index >= len(self._bits):
            self._bits.extend(bytes(index - len(self._bits) + 1 + 65536))
        self._bits[index] |= 1 << (patron_id & 7)

    def __contains__(self, patron_id: object) -> bool:
        if not isinstance(patron_id, int):
            return False
        index = patron_id >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (patron_id & 7)))

    def dump(self) -> str:
        return base64.b64encode(zlib.compress(bytes(self._bits), 6)).decode()

    @classmethod
    def load(cls, text: str) -> TouchedUsers:
        return cls(zlib.decompress(base64.b64decode(text)) if text else b"")


class KeptUsers:
    """The users a plan pass kept unchanged for their known bytes, in one file's order.

    Each is kept with how many of the file's planned records (the ones it will create, update
    or reject) come before it: the apply pass applies those records alone, and marks each kept
    user as touched where the feed has it (`loader.pipeline.load_planned`), so every record is
    decided as the full pass would decide it. Two arrays of 64-bit integers, stored as
    compressed differences: a few bytes a user, next to nothing for users in id order.
    """

    def __init__(self, before: array[int] | None = None, patrons: array[int] | None = None) -> None:
        self._before = before if before is not None else array("q")
        self._patrons = patrons if patrons is not None else array("q")
        self._next = 0  # `take`'s place

    def add(self, before: int, patron_id: int) -> None:
        self._before.append(before)
        self._patrons.append(patron_id)

    def __len__(self) -> int:
        return len(self._patrons)

    def take(self, upto: int) -> Iterator[tuple[int, int]]:
        """The (planned records before it, user id) of each kept user not taken yet with at
        most `upto` planned records before it, in the file's order."""
        before, patrons = self._before, self._patrons
        while self._next < len(before) and before[self._next] <= upto:
            yield before[self._next], patrons[self._next]
            self._next += 1

    def dump(self) -> str:
        if not self._patrons:
            return ""
        data = b"".join(_differences(values).tobytes() for values in (self._before, self._patrons))
        return base64.b64encode(zlib.compress(data, 6)).decode()

    @classmethod
    def load(cls, text: str) -> KeptUsers:
        if not text:
            return cls()
        values = array("q", zlib.decompress(base64.b64decode(text)))
        half = len(values) // 2
        return cls(_sums(values[:half]), _sums(values[half:]))


def _differences(values: array[int]) -> array[int]:
    return array("q", (b - a for a, b in zip(chain((0,), values), values, strict=False)))


def _sums(values: array[int]) -> array[int]:
    return array("q", accumulate(values))


_LOW_BITS = (1 << 64) - 1
_FILL_BLOCK = 20_000


class KnownHashes:
    """The raw hashes stored on an institution's users, for the reading process to look up.

    A Synchronize's reader parses only users whose bytes it has not seen parse before (see
    `almaxml.iter_raw_users`). The 128-bit hashes are kept as two sorted arrays of 64-bit
    halves: 16 bytes a user, 16 MB at a million, with no Python object per hash (a set of
    strings would cost about ten times as much, and a forked reader would copy it as it reads).

    Built with `with_patrons` (rows of hash, user id and the key of the user's match value),
    it also says whose stored bytes a hash is (`patron_of`): a record whose very bytes a user
    of this profile was last loaded from, and whose match value that user still holds, is
    matched to that user without a query. 16 more bytes a user.
    """

    def __init__(self, hex_digests: Iterable[str]) -> None:
        """`hex_digests` in ascending order cost no more memory than the arrays they fill;
        otherwise they are sorted here."""
        self._high, self._low = array("Q"), array("Q")
        self._patrons: array[int] | None = None
        self._keys: array[int] | None = None
        # Built with users: where the hashes found since the last `forget_hits` are, for their
        # `patron_of` (the reader asks for each hash twice: is it known, then whose is it).
        self._hits: dict[str, tuple[int, int]] | None = None
        self._fill(((digest, 0, 0) for digest in hex_digests), with_patrons=False)

    @classmethod
    def with_patrons(cls, rows: Iterable[tuple[str, int, int]]) -> KnownHashes:
        """From (hex digest, user id, key) rows: the key is `match_key` of the value the user
        holds under the profile's match ID type; user id 0 for a user no record may be
        matched to this way (another profile's, or one without that identifier)."""
        known = cls(())
        known._fill(rows, with_patrons=True)
        known._hits = {}
        return known

    def _fill(self, rows: Iterable[tuple[str, int, int]], *, with_patrons: bool) -> None:
        """Fill the arrays from `rows`, a block at a time: the hex digests of a block become
        their 64-bit halves in one conversion, with no Python object per hash."""
        high, low = array("Q"), array("Q")
        patrons, keys = array("q"), array("q")
        rows = iter(rows)
        while block := list(islice(rows, _FILL_BLOCK)):
            block = [row for row in block if len(row[0]) == 32]
            halves = array("Q", bytes.fromhex("".join(row[0] for row in block)))
            if sys.byteorder == "little":
                halves.byteswap()  # each half as the digest writes it, most significant first
            high.extend(halves[0::2])
            low.extend(halves[1::2])
            if with_patrons:
                patrons.extend(row[1] for row in block)
                keys.extend(row[2] for row in block)
        # In order of the high halves, as the lookups need (they compare the low halves of each
        # run of equal high halves), unless sorted here.
        if not all(map(operator.le, high, islice(high, 1, None))):
            order = sorted(range(len(high)), key=lambda i: (high[i], low[i]))
            high, low = array("Q", (high[i] for i in order)), array("Q", (low[i] for i in order))
            if with_patrons:
                patrons = array("q", (patrons[i] for i in order))
                keys = array("q", (keys[i] for i in order))
        self._high, self._low = high, low
        if with_patrons:
            self._patrons, self._keys = patrons, keys

    def __len__(self) -> int:
        return len(self._high)

    def digest(self) -> str:
        """A digest of everything the snapshot holds: two snapshots with the same digest say
        the same of every hash (the apply pass checks the plan's against a fresh one)."""
        digest = blake2b(digest_size=16)
        for values in (self._high, self._low, self._patrons, self._keys):
            if values is not None:
                digest.update(values.tobytes())
        return digest.hexdigest()

    def _first(self, hex_digest: object) -> tuple[int, int]:
        """The index of the first entry of `hex_digest`, and its low half; -1 when absent."""
        if not isinstance(hex_digest, str) or len(hex_digest) != 32:
            return -1, 0
        value = int(hex_digest, 16)
        high, low = value >> 64, value & _LOW_BITS
        index = bisect_left(self._high, high)
        while index < len(self._high) and self._high[index] == high:
            if self._low[index] == low:
                return index, low
            index += 1
        return -1, 0

    def __contains__(self, hex_digest: object) -> bool:
        if self._hits is not None and hex_digest in self._hits:
            return True
        found = self._first(hex_digest)
        if found[0] < 0:
            return False
        if self._hits is not None:
            self._hits[hex_digest] = found  # type: ignore[index]
        return True

    def forget_hits(self) -> None:
        """Forget where the hashes found so far are (the reader does after each batch)."""
        if self._hits:
            self._hits.clear()

    def patron_of(self, hex_digest: str, key: int) -> int:
        """The user whose stored bytes hash to `hex_digest` and who holds the match value of
        `key` (`match_key`); 0 when none, or when built without users."""
        if self._patrons is None or self._keys is None:
            return 0
        hit = self._hits.get(hex_digest) if self._hits is not None else None
        index, low = hit if hit is not None else self._first(hex_digest)
        if index < 0:
            return 0
        high = self._high[index]
        while index < len(self._high) and self._high[index] == high:
            if self._low[index] == low and self._keys[index] == key and self._patrons[index]:
                return self._patrons[index]
            index += 1
        return 0


def match_key(value_key: str) -> int:
    """A 64-bit key of a match value's `identifier_key`, as `KnownHashes.with_patrons` keeps it.

    Python's string hash: the same in the job's process and the reader it forks, and never
    stored. Two different values share one with a chance of one in 2**64, and only a record
    whose bytes are a user's stored bytes is compared with it.
    """
    return hash(value_key)
