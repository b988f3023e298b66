"""Matrix rows for ``/api/v1/me/notifications``: personal endpoints, so every signed-in person
(whatever their permissions) reaches their own inbox; a notification of someone else is 404."""

from __future__ import annotations

from tests.matrix.base import Scenario, World, _expect

N = "/api/v1/me/notifications"


def _mine(w: World) -> str:
    """A notification of A's Authorised Person (the "with" caller), made once per world."""
    cached = w.__dict__.get("_notification")
    if cached is not None:
        return str(cached)
    from flexreg.notifications import services
    from flexreg.notifications.models import Notification
    from flexreg.participants.models import Membership

    ap = Membership.objects.filter(
        participant_role__participant=w.a, participant_role__role="FSP", is_authorised_person=True
    ).first()
    assert ap is not None
    services.notify(
        "entry.case_qualified",
        [ap.user_id],
        subject="Matrix",
        context={"role": "FSP"},
        dedupe_key="matrix",
    )
    found = Notification.objects.get(recipient_id=ap.user_id, dedupe_key="matrix").public_id
    w.__dict__["_notification"] = found
    return str(found)


SCENARIOS = [
    Scenario(f"GET {N}", lambda w: ("/me/notifications", None), _expect(401, 200, 200, 200, 200)),
    Scenario(
        f"POST {N}/read-all",
        lambda w: ("/me/notifications/read-all", {}),
        _expect(401, 200, 200, 200, 200),
    ),
    Scenario(
        f"POST {N}/{{notification_id}}/read",
        lambda w: (f"/me/notifications/{_mine(w)}/read", {}),
        _expect(401, 404, 404, 200, 404),
    ),
    Scenario(
        f"GET {N}/preferences",
        lambda w: ("/me/notifications/preferences", None),
        _expect(401, 200, 200, 200, 200),
    ),
    Scenario(
        f"PATCH {N}/preferences",
        lambda w: (
            "/me/notifications/preferences",
            {"preferences": [{"kind": "entry.request_raised", "channel": "inbox"}]},
        ),
        _expect(401, 200, 200, 200, 200),
    ),
]
