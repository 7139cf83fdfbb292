"""Applying a guarded Synchronize's plan without reading its feed again.

The plan pass of a Synchronize decides every user of the feed; nearly all of them are kept
unchanged, their bytes being the very bytes their user was last loaded from (the snapshot of
known hashes, `loader.state.KnownHashes`). The apply pass need not read and decide those users
again when nothing the snapshot holds changed since the plan was made: it applies the plan's
own records (the users to create, update or reject, each with its element's bytes, kept
encrypted on its record), and counts the kept users as unchanged.

- `PlanKeeping` collects, during the plan pass, which users each file kept and where
  (`KeptUsers`), and counts the unchanged users it decided by parsing them: those the apply
  pass writes (their hashes are refreshed), so a plan with any is applied in full.
- `plan_applies_alone` says whether the apply pass may apply the plan alone: the snapshot of
  known hashes taken now must be the plan's, to the byte.
- `planned_batches` reads a file's planned records back as the feed's records, in its order.

Every record is decided again against what is stored, as in the full apply pass: the plan's
records only spare the reading. The equivalence tests hold both apply passes to the same
records, counts and users (`jobs/tests/test_planned.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

from django.conf import settings

from patronsync.almaxml import Position, RawUser
from patronsync.core.crypto import decrypt_bytes
from patronsync.loader.state import KeptUsers, KnownHashes

from .choices import RecordOutcome
from .models import JobRecord

if TYPE_CHECKING:
    from patronsync.loader.batch import Outcome


class PlanKeeping:
    """What a Synchronize's plan pass kept, file by file, for an apply pass of the plan alone."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.kept: KeptUsers | None = None  # the file being planned
        self.planned = 0  # its planned records so far
        # Records the plan cannot stand for: unchanged users decided by parsing them (an apply
        # pass writes their hashes), records without their bytes.
        self.needs_feed = 0

    def start_file(self) -> None:
        self.kept, self.planned = KeptUsers(), 0

    def note(self, outcomes: Sequence[Outcome]) -> None:
        """A decided batch of the file being planned, in the feed's order."""
        kept = self.kept
        if kept is None:
            return
        for o in outcomes:
            if o.outcome != RecordOutcome.UNCHANGED:
                self.planned += 1  # a record of the plan, with its bytes
                self.needs_feed += not o.raw.raw
            elif o.raw.known_patron:
                kept.add(self.planned, o.raw.known_patron)
            else:
                self.needs_feed += 1

    def end_file(self, name: str, problems: list[dict[str, Any]]) -> None:
        if self.kept is None:
            return
        self.files[name] = {"kept": self.kept.dump(), "users": len(self.kept), "problems": problems}
        self.kept = None

    def state(self, known: KnownHashes | None) -> dict[str, Any] | None:
        """What the plan keeps for its apply pass (`Job.guard["plan"]["apply_from"]`); None
        when the plan cannot be applied alone."""
        if known is None or self.needs_feed:
            return None
        return {"snapshot": known.digest(), "files": self.files}


def plan_applies_alone(plan: dict[str, Any], known: Callable[[], KnownHashes]) -> bool | None:
    """Whether the plan's records may be applied alone: None when the plan did not keep what
    that needs, the setting PATRONSYNC_APPLY_FROM_PLAN is off, or the plan keeps fewer of the
    feed's users unchanged than it has records to apply (those are best read by the reading
    process, in parallel); otherwise whether the snapshot of known hashes taken now (`known()`)
    is the one the plan was made with."""
    apply_from = plan.get("apply_from")
    if not apply_from or not settings.PATRONSYNC_APPLY_FROM_PLAN:
        return None
    kept = sum(int(f["users"]) for f in apply_from["files"].values())
    if kept <= sum(int(f["users"]) for f in plan["files"]) - kept:
        return None
    return bool(apply_from["snapshot"] == known().digest())


def planned_batches(
    *, job_id: int, after: Any, last_record_id: int, name: str, size: int
) -> Iterator[list[RawUser]]:
    """The planned records of file `name`, as the feed's records, `size` at a time.

    `after()` is the id of the last plan record compared with what was applied (the apply
    pass deletes each batch's plan records as it commits them): each batch reads on from there.
    """
    while True:
        rows = list(
            JobRecord.objects.filter(
                job_id=job_id, id__gt=after(), id__lte=last_record_id, file=name[:512]
            )
            .order_by("id")
            .values_list("entry", "line", "position", "raw_xml")[:size]
        )
        if not rows:
            return
        batch = []
        for entry, line, ordinal, raw_xml in rows:
            raw = decrypt_bytes(bytes(raw_xml or b""))  # every planned record keeps its bytes
            position = Position(name, entry or None, line or 0, ordinal)
            batch.append(RawUser(position, blake2b(raw, digest_size=16).hexdigest(), raw))
        yield batch
