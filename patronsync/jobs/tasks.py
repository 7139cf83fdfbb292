"""Celery tasks, thin: a message carries a job id, the `Job` row is the source of truth.

Loaded only by Celery workers and by the process that sends a job (with a broker): nothing
imports this module, nor a broker's client, when PATRONSYNC_BROKER_URL is not set.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .scheduler import schedules_fire
from .worker import FIRE_TASK, job_take, jobs_send_waiting


@shared_task(
    bind=True,
    name="patronsync.jobs.run_job",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def run_job_task(self: Any, job_id: int) -> str:
    """Claim the job and run it to its end.

    acks_late and reject_on_worker_lost: the message of a worker killed mid-job goes back to
    the broker (redelivered), and the next worker resumes the job from its checkpoint. A
    redelivered message that finds the job's lease still running (its dead worker's) asks
    again once that lease runs out. Any other message that finds a live worker holding the
    job (a duplicate: the job was sent twice) does nothing: if that worker dies, the sweep of
    the schedule task sends the job again once its lease has run out.
    """
    job, again_in = job_take(job_id=job_id)
    if again_in is not None:
        if (self.request.delivery_info or {}).get("redelivered"):
            raise self.retry(countdown=again_in)
        return "held by another worker"
    return job.status if job is not None else "not claimed"


@shared_task(name=FIRE_TASK, ignore_result=True)
def fire_schedules_task() -> int:
    """celery beat's task, every minute: fire the due schedules, send the jobs they created,
    and send again the jobs no worker holds. Returns how many jobs it sent."""
    return len(jobs_send_waiting(created=schedules_fire()))
