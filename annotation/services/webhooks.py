"""Webhooks: a project's URL is told when a release is published.

Each delivery POSTs a JSON body signed with the project's secret: the header
``X-Dmops-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` (GitHub's scheme), so the
receiver recomputes it over the bytes it got and compares in constant time. The body of a
delivery is fixed when it is created, so every retry sends the same bytes and signature.
Non-2xx answers and network errors raise :class:`WebhookDeliveryError`; the Celery task
(``annotation.celery_tasks.deliver_webhook``) retries it with exponential backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from annotation.models import Release, Webhook, WebhookDelivery
from dmops.errors import DomainError
from dmops.models import Project

EVENT_RELEASE_PUBLISHED = "release.published"
SIGNATURE_HEADER = "X-Dmops-Signature"
TIMEOUT_SECONDS = 10


class WebhookDeliveryError(Exception):
    """The receiver did not answer 2xx (or could not be reached); the task retries."""


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature or "")


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


@transaction.atomic
def webhook_set(
    *, project: Project, by, url: str, secret: str = "", is_active: bool = True
) -> Webhook:
    """A manager sets the project's webhook; an empty secret keeps the current one, or makes
    a random one for a new webhook."""
    if not project.is_manager(by):
        raise PermissionDenied("Only a project manager can configure the webhook.")
    if not url.startswith(("http://", "https://")):
        raise DomainError("The webhook URL must start with http:// or https://.")
    webhook = Webhook.objects.filter(project=project).first() or Webhook(project=project)
    webhook.url, webhook.is_active = url, is_active
    webhook.secret = secret or webhook.secret or secrets.token_hex(32)
    webhook.save()
    return webhook


def release_payload(release: Release) -> dict[str, Any]:
    return {
        "event": EVENT_RELEASE_PUBLISHED,
        "project": {"id": release.project_id, "name": release.project.name},
        "release": {
            "id": release.pk,
            "number": release.number,
            "published_at": release.published_at.isoformat() if release.published_at else None,
            "row_count": release.row_count,
            "split_counts": release.split_counts,
            "url": reverse("api_release", args=[release.pk]),
            "files": [
                {"format": f.format, "split": f.split or None, "sha256": f.sha256}
                for f in release.files.order_by("format", "split")
            ],
        },
    }


def release_published_notify(*, release: Release) -> WebhookDelivery | None:
    """Queue the "release.published" event for the project's active webhook (if any)."""
    webhook = Webhook.objects.filter(project_id=release.project_id, is_active=True).first()
    if webhook is None:
        return None
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        release=release,
        event=EVENT_RELEASE_PUBLISHED,
        payload=release_payload(release),
    )
    from annotation.celery_tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.delay(delivery.pk))
    return delivery


def webhook_deliver(*, delivery_id: int, final_attempt: bool = False) -> WebhookDelivery:
    """POST one delivery. Already delivered: nothing is sent again. A failure is recorded and
    raised as WebhookDeliveryError for the task to retry; on the final attempt the delivery
    is marked failed."""
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        return delivery
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    body = body_of(delivery)
    request = urllib.request.Request(
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "dmops-webhook/1",
            "X-Dmops-Event": delivery.event,
            "X-Dmops-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: sign(delivery.webhook.secret, body),
        },
    )
    status, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    if status is not None and 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.DELIVERED,
            response_status=status,
            last_error="",
            delivered_at=timezone.now(),
        )
    else:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.FAILED if final_attempt else delivery.status,
            response_status=status,
            last_error=error[:2000],
        )
        raise WebhookDeliveryError(f"Delivery {delivery.pk} to {delivery.webhook.url}: {error}")
    delivery.refresh_from_db()
    return delivery
