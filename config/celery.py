"""The Celery app of patronsync: `celery -A config worker`, `celery -A config beat -S django`.

Used only when PATRONSYNC_BROKER_URL names a Redis or RabbitMQ broker (docs/workers.md); the
settings are the CELERY_* ones of config/settings/base.py. Beat's one periodic task ("patronsync:
fire due schedules", every minute) is created, or put back as it should be, each time beat
starts.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("patronsync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["patronsync.jobs"])


@signals.worker_init.connect
@signals.beat_init.connect
def _broker_required(sender: Any = None, **kwargs: Any) -> None:
    """Refuse to start without PATRONSYNC_BROKER_URL, rather than reach Celery's default
    broker (a RabbitMQ on this host) that nothing sends jobs to."""
    from django.conf import settings

    if not settings.PATRONSYNC_BROKER_URL:
        raise SystemExit(
            "PATRONSYNC_BROKER_URL is not set: name the Redis or RabbitMQ broker "
            "(redis://HOST:6379/0, amqp://USER:PASSWORD@HOST:5672//), or run the embedded "
            "worker, `patronsync worker`"
        )


@signals.beat_init.connect
def _schedule_task_ensure(sender: Any = None, **kwargs: Any) -> None:
    from patronsync.jobs.worker import schedule_task_ensure

    schedule_task_ensure()


@signals.worker_process_init.connect
def _pool_process_may_fork(sender: Any = None, **kwargs: Any) -> None:
    """Let a pool process start the job's reading process (patronsync.loader.pipeline).

    Celery marks its pool processes daemonic, and Python's multiprocessing refuses children to
    a daemonic process. The reader needs no such guard: it dies with the process that forked
    it, even one killed with SIGKILL (PR_SET_PDEATHSIG), and the job ends it after each file.
    """
    import multiprocessing

    multiprocessing.current_process()._config["daemon"] = False  # type: ignore[attr-defined]
