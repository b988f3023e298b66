"""``/api/v1/me/notifications``: each person's own inbox and channel choices."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client

from conftest import Api
from flexreg.core.models import AuditEvent
from flexreg.notifications import services
from flexreg.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _tell(user: Any, n: int = 1, kind: str = "entry.case_qualified") -> None:
    for i in range(n):
        services.notify(
            kind,
            [user.pk],
            subject=f"Event {i}",
            context={"role": "FSP"},
            link=f"/participants/#{i}",
            participant_id="FR-TEST",
        )


@pytest.fixture
def me(make_user: Any, api_for: Any) -> tuple[Any, Api]:
    user = make_user()
    return user, api_for(user)


def test_the_inbox_pages_newest_first_and_filters_unread(me: Any, make_user: Any) -> None:
    user, api = me
    _tell(user, 5)
    _tell(make_user(), 2)  # someone else's
    first = api.get("/me/notifications", limit=2)
    assert first.status_code == 200, first.content
    body = first.json()
    assert [i["subject"] for i in body["items"]] == ["Event 4", "Event 3"]
    assert body["unread_count"] == 5 and body["items"][0]["unread"] is True
    second = api.get("/me/notifications", limit=2, cursor=body["next_cursor"]).json()
    third = api.get("/me/notifications", limit=2, cursor=second["next_cursor"]).json()
    assert [i["subject"] for i in second["items"] + third["items"]] == [
        "Event 2",
        "Event 1",
        "Event 0",
    ]
    assert third["next_cursor"] is None
    one = body["items"][1]["notification_id"]
    read = api.post(f"/me/notifications/{one}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = api.post(f"/me/notifications/{one}/read")
    assert again.json()["read_at"] == read.json()["read_at"]  # idempotent
    unread = api.get("/me/notifications", unread="true").json()
    assert one not in [i["notification_id"] for i in unread["items"]]
    assert unread["unread_count"] == 4
    assert api.post("/me/notifications/read-all").json() == {"marked": 4}
    assert api.get("/me/notifications", unread="true").json()["items"] == []


def test_the_inbox_list_has_a_query_budget(me: Any, django_assert_max_num_queries: Any) -> None:
    user, api = me
    _tell(user, 30)
    with django_assert_max_num_queries(5):  # token (+ last_used_at), page, unread count
        response = api.get("/me/notifications", limit=30)
    assert len(response.json()["items"]) == 30


def test_someone_elses_notification_is_not_found(me: Any, make_user: Any) -> None:
    _, api = me
    other = make_user()
    _tell(other)
    theirs = Notification.objects.get(recipient=other).public_id
    response = api.post(f"/me/notifications/{theirs}/read")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert api.post("/me/notifications/not-a-uuid/read").status_code == 404
    assert api.get("/me/notifications", cursor="nonsense").status_code == 404
    assert Notification.objects.get(recipient=other).read_at is None


def test_preferences_list_every_kind_and_the_rules_mandatory_ones(me: Any) -> None:
    _, api = me
    response = api.get("/me/notifications/preferences")
    assert response.status_code == 200
    rows = {r["kind"]: r for r in response.json()["items"]}
    assert rows["entry.request_overdue"]["mandatory"] is True  # default rules
    assert rows["entry.request_overdue"]["channel"] == "email"
    assert rows["entry.request_raised"] == {
        "kind": "entry.request_raised",
        "label": "Information requested",
        "description": "We need a document, form or answer from you for market entry.",
        "audience": "participants",
        "channel": "email",
        "default_channel": "email",
        "mandatory": False,
    }
    assert rows["entry.case_ready"]["channel"] == "inbox"


def test_choosing_inbox_only_is_saved_audited_and_used(me: Any) -> None:
    user, api = me
    response = api.patch(
        "/me/notifications/preferences",
        {"preferences": [{"kind": "entry.case_qualified", "channel": "inbox"}]},
    )
    assert response.status_code == 200, response.content
    rows = {r["kind"]: r["channel"] for r in response.json()["items"]}
    assert rows["entry.case_qualified"] == "inbox"
    event = AuditEvent.objects.get(action="notifications.preferences_changed")
    assert event.actor_user_id == user.pk
    _tell(user)
    assert Notification.objects.get(recipient=user).email_status == "none"


def test_inbox_only_for_a_mandatory_kind_is_refused_with_the_field(me: Any) -> None:
    _, api = me
    response = api.patch(
        "/me/notifications/preferences",
        {
            "preferences": [
                {"kind": "entry.request_raised", "channel": "inbox"},
                {"kind": "entry.case_rejected", "channel": "inbox"},
            ]
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "notifications.email_mandatory"
    assert problem["errors"] == [
        {
            "field": "preferences.1.channel",
            "code": "notifications.email_mandatory",
            "message": "Application not accepted is always sent by email: the market-entry "
            "rules require it.",
        }
    ]
    # nothing changed, not even the allowed choice
    rows = {
        r["kind"]: r["channel"] for r in api.get("/me/notifications/preferences").json()["items"]
    }
    assert rows["entry.request_raised"] == "email"


def test_unknown_kinds_and_channels_are_refused(me: Any) -> None:
    _, api = me
    unknown = api.patch(
        "/me/notifications/preferences", {"preferences": [{"kind": "nope", "channel": "email"}]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "preferences.0.kind"
    assert unknown.json()["errors"][0]["code"] == "notifications.kind_unknown"
    channel = api.patch(
        "/me/notifications/preferences",
        {"preferences": [{"kind": "entry.request_raised", "channel": "pigeon"}]},
    )
    assert channel.status_code == 422


def test_machines_have_no_inbox(registered: Any) -> None:
    _, _, api = registered()
    account = api.post("/service-accounts", {"name": "bot", "scopes": ["participant:read"]})
    assert account.status_code == 201, account.content
    basic = base64.b64encode(
        f"{account.json()['client_id']}:{account.json()['client_secret']}".encode()
    ).decode()
    token = Client().post(
        "/api/v1/oauth/token",
        {"grant_type": "client_credentials", "scope": "participant:read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.content
    machine = Api(token.json()["access_token"])
    for response in (
        machine.get("/me/notifications"),
        machine.get("/me/notifications/preferences"),
        machine.post("/me/notifications/read-all"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert Api(None).get("/me/notifications").status_code == 401
