"""What a run knows across batches: the users the feed touched, and the hashes stored before."""

from __future__ import annotations

import base64
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable


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


_LOW_BITS = (1 << 64) - 1


class KnownHashes:
    """The raw hashes stored on an institution's users, for the reading process to look up.

    A Synchronize's reader parses only users whose bytes it has not seen parse before (see
    `almaxml.iter_raw_users`). The 128-bit hashes are kept as two sorted arrays of 64-bit
    halves: 16 bytes a user, 16 MB at a million, with no Python object per hash (a set of
    strings would cost about ten times as much, and a forked reader would copy it as it reads).
    """

    def __init__(self, hex_digests: Iterable[str]) -> None:
        """`hex_digests` in ascending order cost no more memory than the arrays they fill;
        otherwise they are sorted here."""
        high, low = array("Q"), array("Q")
        previous = -1
        in_order = True
        for digest in hex_digests:
            if len(digest) != 32:
                continue
            value = int(digest, 16)
            in_order = in_order and value >= previous
            previous = value
            high.append(value >> 64)
            low.append(value & _LOW_BITS)
        if not in_order:
            pairs = sorted(zip(high, low, strict=True))
            high, low = array("Q", (h for h, _ in pairs)), array("Q", (lo for _, lo in pairs))
        self._high, self._low = high, low

    def __len__(self) -> int:
        return len(self._high)

    def __contains__(self, hex_digest: object) -> bool:
        if not isinstance(hex_digest, str) or len(hex_digest) != 32:
            return False
        value = int(hex_digest, 16)
        high, low = value >> 64, value & _LOW_BITS
        index = bisect_left(self._high, high)
        while index < len(self._high) and self._high[index] == high:
            if self._low[index] == low:
                return True
            index += 1
        return False
