"""Webhooks announce published releases: signed bodies, retries with backoff, no repeats.

The receiver is a real ``http.server`` on 127.0.0.1 in a thread: nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest

from annotation.celery_tasks import WEBHOOK_MAX_RETRIES, deliver_webhook
from annotation.models import Release, Webhook, WebhookDelivery
from annotation.services import webhooks
from tests.annotation.test_releases import create_release, make_annotated_project


class Receiver:
    """Answers each POST with the next status of ``statuses`` (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers["Content-Length"])
                receiver.requests.append((dict(self.headers), self.rfile.read(length)))
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made: list[Receiver] = []

    def make(statuses):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def eager_retries():
    """Eager Celery re-raises a task's Retry when it propagates errors; a worker schedules it.
    Without propagation, eager mode runs each retry at once, as a worker would after the
    countdown."""
    conf = deliver_webhook.app.conf
    old = conf.task_eager_propagates
    conf.task_eager_propagates = False
    yield
    conf.task_eager_propagates = old


@pytest.fixture
def published(project, manager, settings, tmp_path, django_capture_on_commit_callbacks):
    """A project with labelled items, ready to release (MEDIA_ROOT in tmp)."""
    settings.MEDIA_ROOT = tmp_path
    make_annotated_project(project, manager)

    def publish() -> Release:
        with django_capture_on_commit_callbacks(execute=True):
            release = create_release(project, manager)
        release.refresh_from_db()
        return release

    return publish


def test_signature_is_hmac_sha256_of_the_body():
    body = b'{"event":"release.published"}'
    signature = webhooks.sign("s3cret", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhooks.verify("s3cret", body, signature)
    assert not webhooks.verify("other", body, signature)
    assert not webhooks.verify("s3cret", body + b" ", signature)


def test_publishing_a_release_posts_a_signed_event(project, manager, published, receiver_factory):
    receiver = receiver_factory([200])
    webhook = webhooks.webhook_set(project=project, by=manager, url=receiver.url)
    release = published()
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert webhooks.verify(webhook.secret, body, headers[webhooks.SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["event"] == "release.published"
    assert payload["release"]["number"] == release.number
    assert payload["release"]["row_count"] == release.row_count
    assert {f["sha256"] for f in payload["release"]["files"]} == set(
        release.files.values_list("sha256", flat=True)
    )
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)
    assert headers["X-Dmops-Delivery"] == str(delivery.pk)


def test_failed_deliveries_are_retried_with_exponential_backoff(
    project, manager, published, receiver_factory, eager_retries
):
    receiver = receiver_factory([500, 503, 200])
    webhooks.webhook_set(project=project, by=manager, url=receiver.url, secret="k")
    with mock.patch(
        "celery.app.autoretry.get_exponential_backoff_interval", return_value=0
    ) as backoff:
        published()
    assert [r[1] for r in receiver.requests] == [receiver.requests[0][1]] * 3  # same bytes
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    calls = [c.kwargs for c in backoff.call_args_list]
    assert [c["retries"] for c in calls] == [0, 1]
    assert all(c["factor"] == 2 and c["maximum"] == 600 and c["full_jitter"] for c in calls)


def test_delivery_gives_up_after_max_retries(
    project, manager, published, receiver_factory, eager_retries
):
    receiver = receiver_factory([500])
    webhooks.webhook_set(project=project, by=manager, url=receiver.url)
    with mock.patch("celery.app.autoretry.get_exponential_backoff_interval", return_value=0):
        published()
    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == WEBHOOK_MAX_RETRIES + 1
    assert (delivery.status, delivery.attempts) == ("failed", WEBHOOK_MAX_RETRIES + 1)
    assert delivery.response_status == 500 and "HTTP 500" in delivery.last_error


def test_unreachable_receiver_is_recorded(
    project, manager, published, receiver_factory, eager_retries
):
    receiver = receiver_factory([200])
    receiver.close()  # nothing listens on the port any more
    webhooks.webhook_set(project=project, by=manager, url=receiver.url)
    with mock.patch("celery.app.autoretry.get_exponential_backoff_interval", return_value=0):
        published()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.response_status is None
    assert delivery.last_error


def test_running_a_delivered_task_again_sends_nothing(
    project, manager, published, receiver_factory
):
    receiver = receiver_factory([200])
    webhooks.webhook_set(project=project, by=manager, url=receiver.url)
    published()
    delivery = WebhookDelivery.objects.get()
    deliver_webhook.apply(args=[delivery.pk])
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_no_webhook_or_inactive_webhook_sends_nothing(
    project, manager, published, receiver_factory
):
    receiver = receiver_factory([200])
    published()
    webhooks.webhook_set(project=project, by=manager, url=receiver.url, is_active=False)
    published()
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_only_managers_configure_webhooks(project, reviewer, manager):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        webhooks.webhook_set(project=project, by=reviewer, url="http://127.0.0.1/x")
    first = webhooks.webhook_set(project=project, by=manager, url="http://127.0.0.1/x")
    again = webhooks.webhook_set(project=project, by=manager, url="http://127.0.0.1/y")
    assert again.secret == first.secret and Webhook.objects.get().url.endswith("/y")
