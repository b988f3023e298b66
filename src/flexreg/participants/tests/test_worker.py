"""The worker: queued retries and the sweep complete verifications after an outage."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from conftest import organisation_payload
from flexreg.participants.models import Verification

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_batch_finishes_pending_verifications(
    registered: Any, settings: Any, ch_stub: Any
) -> None:
    settings.COMPANIES_HOUSE_API_URL = "http://127.0.0.1:9"
    _, body, _ = registered(organisation_payload())
    assert body["verification"]["status"] == "pending"
    settings.COMPANIES_HOUSE_API_URL = ch_stub.url
    Verification.objects.update(next_attempt_at=timezone.now())
    call_command("worker", "--batch")
    assert Verification.objects.get().status == "passed"
