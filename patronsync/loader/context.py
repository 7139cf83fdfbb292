"""Everything a batch needs to know about the run it belongs to, and where it reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from patronsync.core.models import Institution
from patronsync.core.selectors import CodeTables
from patronsync.patrons.swap import SwapContext

from .state import KnownHashes, TouchedUsers

if TYPE_CHECKING:
    from .batch import Outcome


class BatchSink(Protocol):
    """What the engine reports to as it goes: the job runner, which owns the job's row.

    The engine knows nothing of jobs; it calls these, and the runner records them.
    """

    def record_batch(self, *, outcomes: Sequence[Outcome], checkpoint: dict[str, Any]) -> None:
        """Record a decided batch (its records, counters and checkpoint).

        Called inside the transaction that writes the batch's users, so both commit together.
        """

    def stop_requested(self) -> str:
        """Who asked the run to stop after the batch it committed, or '' to go on."""

    def log(self, level: int, message: str) -> None:
        """Add a line to the run's log (a `logging` level, e.g. logging.WARNING); it also
        reaches Python logging with the job id. Never a secret or a whole user record."""


@dataclass
class RunContext:
    """The run's settings, the code tables, the users the feed touched, and its sink.

    `known` (a Synchronize) holds the raw hashes stored on the institution's users when the job
    took its first file: users whose bytes are among them are not parsed by the reader.
    """

    job_id: int
    job_title: str
    institution: Institution
    kind: str
    dry_run: bool
    codes: CodeTables
    profile_code: str
    match_type: str
    unmatched: str
    record_type: str
    swap: SwapContext
    touched: TouchedUsers
    sink: BatchSink
    known: KnownHashes | None = None
    # A complete feed's run (leavers, `jobs.leavers`): every user its records matched or
    # created, across its files; None when the profile has no leavers rule (nothing is kept).
    seen: TouchedUsers | None = None
    # Whether a Synchronize matches users of other profiles (external ID another code) too.
    take_over_users: bool = False
    # Ordered match keys (a Synchronize of a profile listing match_id_types): the match ID
    # types tried in order. Empty, or one type: `match_type` alone, the one-query path.
    match_types: tuple[str, ...] = ()
    # Names whose generated primary IDs the run has reached: base -> the number last taken.
    generated: dict[str, int] = field(default_factory=dict)
