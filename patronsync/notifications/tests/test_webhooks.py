"""Job-end webhooks: a signed POST of the job's summary to a real local HTTP server, tried
again with backoff, every try logged; the secret is encrypted, never logged or shown."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from patronsync.cli import main
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.notifications.models import Webhook, WebhookDelivery
from patronsync.notifications.services import webhook_create, webhook_url_check

pytestmark = pytest.mark.django_db

SECRET = "receiver-shared-secret-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on a loopback port: answers each POST with the next status."""

    url: str
    answers: list[int]
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="", answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(Received(self.path, dict(self.headers.items()), body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/patronsync"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_wait(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 0


def sync_feed(drop, *users):
    return write_zip(drop / "synchronize" / "feed.zip", {"users.xml": users_doc(*users)})


def test_a_job_end_is_posted_signed_with_the_webhooks_secret(institution, profile, drop, receiver):
    webhook, _ = webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    sync_feed(drop, user_xml("u1"), user_xml("u2"), user_xml(None, first="No", last="Id"))

    job = profile_run(profile=profile, kind="synchronize")

    assert len(receiver.received) == 1
    request = receiver.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Patronsync-Signature"], expected)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Patronsync-Event"] == "JOB_END"
    assert request.headers["X-Patronsync-Timestamp"].isdigit()
    payload = json.loads(request.body)
    assert payload["action"] == "JOB_END"
    summary = payload["job"]
    assert summary["job_id"] == job.pk
    assert summary["process_id"] == job.process_id
    assert summary["profile"] == "SIS"
    assert summary["kind"] == "synchronize"
    assert summary["status"] == "completed_with_errors"
    assert summary["counters"] == {
        "total_records_processed": 3,
        "total_users_processed": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert summary["started"]
    assert summary["finished"]
    assert summary["report_url"].endswith(f"/jobs/{job.pk}/")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.webhook, delivery.job, delivery.attempt, delivery.status_code) == (
        webhook,
        job,
        1,
        200,
    )


def test_a_signature_made_with_another_secret_does_not_verify(institution, profile, drop, receiver):
    webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    sync_feed(drop, user_xml("u1"))

    profile_run(profile=profile, kind="synchronize")

    request = receiver.received[0]
    forged = "sha256=" + hmac.new(b"another", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Patronsync-Signature"] != forged


def test_a_failed_delivery_is_tried_again_and_each_try_is_logged(
    institution, profile, drop, receiver
):
    webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    receiver.answers = [503, 500, 204]
    sync_feed(drop, user_xml("u1"))

    job = profile_run(profile=profile, kind="synchronize")

    assert len(receiver.received) == 3
    assert len({r.headers["X-Patronsync-Delivery"] for r in receiver.received}) == 1
    tries = list(WebhookDelivery.objects.order_by("attempt").values_list("attempt", "status_code"))
    assert tries == [(1, 503), (2, 500), (3, 204)]
    assert job.status == "completed"


def test_a_webhook_that_never_answers_2xx_stops_after_its_tries_and_the_job_stays_completed(
    institution, profile, drop, receiver, settings
):
    settings.WEBHOOK_TRIES = 3
    webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    receiver.answers = [500, 500, 500, 500]
    sync_feed(drop, user_xml("u1"))

    job = profile_run(profile=profile, kind="synchronize")

    assert len(receiver.received) == 3
    assert WebhookDelivery.objects.filter(status_code=500).count() == 3
    job.refresh_from_db()
    assert job.status == "completed"


def test_an_unreachable_webhook_is_logged_and_never_fails_the_job(institution, profile, drop):
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    webhook_create(institution=institution, url=f"http://127.0.0.1:{closed_port}/", secret=SECRET)
    sync_feed(drop, user_xml("u1"))

    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "completed"
    errors = list(WebhookDelivery.objects.values_list("status_code", "error"))
    assert len(errors) == 3
    assert all(code is None and error.startswith("not delivered:") for code, error in errors)


def test_a_webhook_is_sent_only_for_the_job_ends_it_names(institution, profile, drop, receiver):
    webhook_create(institution=institution, url=receiver.url, secret=SECRET, events=["failed"])
    sync_feed(drop, user_xml("u1"))

    profile_run(profile=profile, kind="synchronize")
    assert receiver.received == []

    (drop / "synchronize" / "feed.zip.handled").unlink()
    (drop / "synchronize").rmdir()  # the folder is gone: the next job fails
    job = profile_run(profile=profile, kind="synchronize")

    assert job.status == "failed"
    assert [json.loads(r.body)["job"]["status"] for r in receiver.received] == ["failed"]


def test_a_switched_off_webhook_is_not_sent(institution, profile, drop, receiver):
    webhook, _ = webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    Webhook.objects.filter(pk=webhook.pk).update(active=False)
    sync_feed(drop, user_xml("u1"))

    profile_run(profile=profile, kind="synchronize")

    assert receiver.received == []


def test_another_institutions_webhook_is_not_told(other_institution, profile, drop, receiver):
    webhook_create(institution=other_institution, url=receiver.url, secret=SECRET)
    sync_feed(drop, user_xml("u1"))

    profile_run(profile=profile, kind="synchronize")

    assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.edu/patronsync", "http://127.0.0.1:9000/x", "http://localhost/x",
     "http://[::1]:8080/x"],
)  # fmt: skip
def test_https_and_loopback_http_urls_are_accepted(url):
    webhook_url_check(url)


@pytest.mark.parametrize("url", ["http://hooks.example.edu/x", "ftp://example.edu/", "file:///x"])
def test_plain_http_to_another_host_and_other_schemes_are_refused(url):
    with pytest.raises(ValidationError, match=r"(?i)https"):
        webhook_url_check(url)


def test_plain_http_to_another_host_is_accepted_when_the_setting_allows_it(settings):
    settings.WEBHOOK_ALLOW_HTTP = True

    webhook_url_check("http://hooks.example.edu/x")


def test_the_secret_is_stored_encrypted_and_never_logged(
    institution, profile, drop, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    webhook, _ = webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    receiver.answers = [500, 200]
    sync_feed(drop, user_xml("u1"))

    profile_run(profile=profile, kind="synchronize")

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notifications_webhook WHERE id = %s", [webhook.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
    assert Webhook.objects.get().secret == SECRET
    assert SECRET not in caplog.text
    assert "webhook" in caplog.text  # the tries are logged, without the secret


def test_webhook_add_prints_the_secret_once_and_list_never_shows_it(institution, receiver, capsys):
    assert main(["webhook", "add", receiver.url, "--event", "failed", "--event", "errored"]) == 0
    added = capsys.readouterr().out
    secret = added.strip().splitlines()[-1]
    webhook = Webhook.objects.get()
    assert webhook.secret == secret
    assert webhook.events == ["failed", "errored"]

    assert main(["webhook", "list"]) == 0
    listing = capsys.readouterr().out
    assert receiver.url in listing
    assert secret not in listing


def test_webhook_add_refuses_plain_http_to_another_host_naming_the_url(institution, capsys):
    assert main(["webhook", "add", "http://hooks.example.edu/x"]) == 2
    assert "http://hooks.example.edu/x" in capsys.readouterr().err
    assert not Webhook.objects.exists()


def test_webhook_add_reads_the_secret_from_stdin(institution, receiver, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(SECRET + "\n"))

    assert main(["webhook", "add", receiver.url, "--secret-from-stdin"]) == 0

    assert SECRET not in capsys.readouterr().out
    assert Webhook.objects.get().secret == SECRET


def test_the_admin_never_shows_the_secret_and_keeps_it_when_left_empty(
    institution, receiver, client
):
    from patronsync.accounts.choices import StaffRole
    from patronsync.accounts.services import staff_create

    admin = staff_create(
        username="gsa",
        password="a long password 1",
        memberships={institution: StaffRole.GENERAL_SYSTEM_ADMINISTRATOR},
    )
    client.force_login(admin)
    webhook, _ = webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    page = client.get(f"/admin/notifications/webhook/{webhook.pk}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()

    answer = client.post(
        f"/admin/notifications/webhook/{webhook.pk}/change/",
        {
            "institution": institution.pk,
            "url": receiver.url + "/v2",
            "secret": "",
            "active": "on",
            "deliveries-TOTAL_FORMS": "0",
            "deliveries-INITIAL_FORMS": "0",
        },
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    webhook.refresh_from_db()
    assert webhook.url == receiver.url + "/v2"
    assert webhook.secret == SECRET


def test_a_pending_job_cancelled_before_any_worker_ran_it_is_posted(institution, profile, receiver):
    from patronsync.jobs.services import job_cancel, job_start

    webhook_create(institution=institution, url=receiver.url, secret=SECRET, events=["cancelled"])
    job = job_start(profile=profile, kind="synchronize")

    job_cancel(job=job, actor="operator")

    [request] = receiver.received
    assert json.loads(request.body)["job"]["status"] == "cancelled"
    assert json.loads(request.body)["job"]["job_id"] == job.pk


def test_a_running_job_cancelled_is_posted_once(institution, profile, drop, receiver, monkeypatch):
    from patronsync.jobs.models import Job
    from patronsync.jobs.runner import job_run
    from patronsync.jobs.services import job_cancel, job_create
    from patronsync.loader import pipeline

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 2)
    webhook_create(institution=institution, url=receiver.url, secret=SECRET)
    sync_feed(drop, *(user_xml(f"u{n}") for n in range(6)))
    job = job_create(profile=profile, kind="synchronize")

    ended = job_run(
        job=job, progress=lambda n: job_cancel(job=Job.objects.get(pk=job.pk), actor="operator")
    )

    assert ended.status == "cancelled"
    assert [json.loads(r.body)["job"]["status"] for r in receiver.received] == ["cancelled"]
