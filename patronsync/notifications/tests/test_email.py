"""Email to a profile's subscribers when a job needs them: completed with rejections, failed,
errored (held comes with the mass-change guard); addresses checked where the profile is saved."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from patronsync.core.exceptions import ConfigurationError
from patronsync.demo.services import demo_config
from patronsync.jobs import runner
from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import user_xml, users_doc, write_zip
from patronsync.notifications.services import subscribers_notify
from patronsync.profiles.models import IntegrationProfile
from patronsync.profiles.services import config_apply, profile_update

pytestmark = pytest.mark.django_db

SUBSCRIBERS = "registrar@uni.edu\nlibrary-systems@uni.edu"


@pytest.fixture
def subscribed(profile):
    return profile_update(profile=profile, values={"subscribers": SUBSCRIBERS}, actor="tests")


def sync_feed(drop, *users):
    return write_zip(drop / "synchronize" / "feed.zip", {"users.xml": users_doc(*users)})


def test_subscribers_are_emailed_when_a_job_completes_with_rejections(subscribed, drop):
    sync_feed(drop, user_xml("u1"), user_xml(None, first="No", last="Id"))

    job = profile_run(profile=subscribed, kind="synchronize")

    assert job.status == "completed_with_errors"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["registrar@uni.edu", "library-systems@uni.edu"]
    assert message.subject == f"[patronsync] {job.title}: Completed with errors"
    assert f"Process ID {job.process_id}" in message.body
    assert "Users rejected: 1" in message.body
    assert f"/jobs/{job.pk}/" in message.body


def test_no_email_when_a_job_completes_successfully(subscribed, drop):
    sync_feed(drop, user_xml("u1"))

    job = profile_run(profile=subscribed, kind="synchronize")

    assert job.status == "completed"
    assert mail.outbox == []


def test_subscribers_are_emailed_when_a_job_fails_with_its_reason(subscribed, drop):
    (drop / "synchronize").rmdir()

    job = profile_run(profile=subscribed, kind="synchronize")

    assert job.status == "failed"
    [message] = mail.outbox
    assert message.subject.endswith(": Failed")
    assert "The end of the job's log:" in message.body
    assert "Failed:" in message.body


def test_subscribers_are_emailed_when_a_job_errors(subscribed, drop, monkeypatch):
    sync_feed(drop, user_xml("u1"))

    def broken(*args, **kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(runner, "load_file", broken)  # an unexpected error inside the run
    job = profile_run(profile=subscribed, kind="synchronize")

    assert job.status == "errored"
    [message] = mail.outbox
    assert message.subject.endswith(": Errored")
    assert "the disk went away" in message.body


def test_a_held_job_is_told_to_its_subscribers(subscribed, drop):
    sync_feed(drop, user_xml("u1"))
    job = profile_run(profile=subscribed, kind="synchronize")
    mail.outbox.clear()
    job.status = "held"  # as the mass-change guard will leave it

    assert subscribers_notify(job=job) == 2
    assert mail.outbox[0].subject.endswith(": Held for approval")


def test_a_profile_without_subscribers_sends_nothing(profile, drop):
    sync_feed(drop, user_xml(None, first="No", last="Id"))

    profile_run(profile=profile, kind="synchronize")

    assert mail.outbox == []


def test_a_failing_mail_server_never_fails_the_job(subscribed, drop, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # nothing listens: the connection is refused
    settings.EMAIL_TIMEOUT = 5
    sync_feed(drop, user_xml(None, first="No", last="Id"))

    job = profile_run(profile=subscribed, kind="synchronize")

    assert job.status == "completed_with_errors"


def test_a_subscriber_that_is_not_an_address_is_refused_naming_it(profile):
    with pytest.raises(ValidationError) as refused:
        profile_update(
            profile=profile, values={"subscribers": "registrar@uni.edu\nnot-an-address"}, actor="t"
        )

    assert "'not-an-address'" in refused.value.message_dict["subscribers"][0]


def test_config_apply_takes_subscribers_as_a_list(institution, drop):
    document = demo_config(drop)
    document["profiles"][0]["subscribers"] = ["registrar@uni.edu", "it@uni.edu"]

    config_apply(institution=institution, document=document)

    profile = IntegrationProfile.objects.get(institution=institution, code="SIS")
    assert profile.subscribers == "registrar@uni.edu\nit@uni.edu"


def test_config_apply_refuses_a_bad_subscriber_naming_the_profile_and_key(institution, drop):
    document = demo_config(drop)
    document["profiles"][0]["subscribers"] = ["registrar@uni.edu", "registrar at uni"]

    with pytest.raises(ConfigurationError, match="subscribers") as refused:
        config_apply(institution=institution, document=document)

    assert "'registrar at uni'" in str(refused.value)


def test_a_job_errored_after_its_workers_died_too_often_is_told(subscribed, settings):
    from django.utils import timezone

    from patronsync.jobs.models import Job
    from patronsync.jobs.runner import job_run
    from patronsync.jobs.services import job_create

    job = job_create(profile=subscribed, kind="synchronize")
    # As three workers that died mid-job leave it: running, tried 3 times, its lease run out.
    Job.objects.filter(pk=job.pk).update(
        status="running", attempts=3, worker="dead:1#x", lease_until=timezone.now()
    )

    ended = job_run(job=job)

    assert ended.status == "errored"
    [message] = mail.outbox
    assert message.subject.endswith(": Errored")
    assert "not tried again" in message.body
