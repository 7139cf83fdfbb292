"""What a run remembers across batches: which users the feed has already touched."""

from __future__ import annotations

import base64
import zlib


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
