"""Every sign-in, failed sign-in, sign-out, expiry and authorisation failure is audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from flexreg.core import audit
from flexreg.core.audit import personal_values
from flexreg.core.models import AuditEvent

from .conftest import last_seq

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("generous_signin")]


def _only(action: str, since: int) -> AuditEvent:
    return AuditEvent.objects.get(seq__gt=since, action=action)


def test_sign_in_is_audited(make_user: Any) -> None:
    user = make_user()
    since = last_seq()
    client = Client()
    client.force_login(user)
    event = _only("user.signed_in", since)
    assert event.actor_user_id == user.pk and event.actor_label == user.email
    assert event.via == "session"
    assert event.object_type == "user" and event.object_id == str(user.pk)
    assert event.changes["after"]["ip"] == "__personal__"  # a digest in the chain, not the IP


def test_a_failed_sign_in_records_the_attempted_email_as_personal_data(make_user: Any) -> None:
    user = make_user()
    since = last_seq()
    response = Client().post(
        "/sign-in/",
        {"email": user.email.upper(), "password": "not-the-password-1"},
        REMOTE_ADDR="203.0.113.9",
        headers={"X-Request-ID": "req-failed-sign-in-1"},
    )
    assert response.status_code == 200
    event = _only("user.sign_in_failed", since)
    assert event.actor_user_id is None and event.via == "anonymous"
    assert event.object_type == "user" and event.object_id == str(user.pk)
    assert event.request_id == "req-failed-sign-in-1"
    assert event.changes["after"] == {"email": "__personal__", "ip": "__personal__"}
    assert personal_values(event) == {"after.email": user.email, "after.ip": "203.0.113.9"}


def test_a_failed_sign_in_for_an_unknown_account(db: Any) -> None:
    since = last_seq()
    Client().post("/sign-in/", {"email": "ghost@example.test", "password": "whatever-1234"})
    event = _only("user.sign_in_failed", since)
    assert event.object_id == "unknown"
    assert personal_values(event)["after.email"] == "ghost@example.test"


def test_the_lock_is_audited_with_the_failure_that_started_it(make_user: Any) -> None:
    user = make_user()
    since = last_seq()
    client = Client()
    for _ in range(5):
        client.post("/sign-in/", {"email": user.email, "password": "not-the-password-1"})
    events = list(
        AuditEvent.objects.filter(seq__gt=since, action="user.sign_in_failed").order_by("seq")
    )
    assert len(events) == 5
    assert "locked_for_seconds" not in events[3].changes["after"]
    assert events[4].changes["after"]["locked_for_seconds"] == 60


def test_sign_out_is_audited(signed_in_client: Any) -> None:
    client, user = signed_in_client
    since = last_seq()
    client.post("/sign-out/")
    event = _only("user.signed_out", since)
    assert event.actor_user_id == user.pk
    assert event.changes["after"]["reason"] == "signed_out"


def test_an_api_authorisation_failure_is_audited_and_still_403(registered: Any) -> None:
    user, body, api = registered()
    since = last_seq()
    response = api.get("/operator/verifications")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    event = _only("authorisation.denied", since)
    assert event.actor_user_id == user.pk and event.via == "token"
    assert event.acting_participant_id == body["participant_id"]
    assert event.acting_role
    assert event.object_type == "permission" and event.object_id == "verification:review"
    after = event.changes["after"]
    assert after["permission"] == "verification:review"
    assert after["path"] == "/api/v1/operator/verifications"
    assert after["method"] == "GET"
    assert after["membership_id"] is not None and after["token_id"] is not None


def test_a_portal_authorisation_failure_is_audited_and_still_403(signed_in_client: Any) -> None:
    client, user = signed_in_client
    since = last_seq()
    response = client.get("/operator/verifications/")
    assert response.status_code == 403
    event = _only("authorisation.denied", since)
    assert event.actor_user_id == user.pk and event.via == "session"
    assert event.changes["after"]["permission"] == "verification:review"
    assert event.changes["after"]["path"] == "/operator/verifications/"
    assert event.changes["after"]["membership_id"] is None


def test_anonymous_callers_are_not_authorisation_failures(client: Client) -> None:
    since = last_seq()
    assert client.get("/api/v1/operator/verifications").status_code == 401
    assert client.get("/operator/verifications/").status_code == 302
    assert not AuditEvent.objects.filter(seq__gt=since, action="authorisation.denied").exists()


def test_a_broken_audit_write_does_not_turn_a_403_into_something_else(
    registered: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, api = registered()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit, "record", broken)
    response = api.get("/operator/verifications")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_the_audit_chain_stays_valid(signed_in_client: Any) -> None:
    client, _ = signed_in_client
    client.get("/operator/verifications/")
    client.post("/sign-out/")
    Client().post("/sign-in/", {"email": "ghost@example.test", "password": "whatever-1234"})
    assert audit.verify().ok
