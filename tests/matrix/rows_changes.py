"""Matrix rows: ongoing management (change requests for verified facts, the operator's queue of
them, off-boarding); participants/api_changes.py."""

from __future__ import annotations

from tests.matrix.base import Scenario, World, _expect

# Matches company 99000001 on the Companies House stand-in: applied at once.
REGISTER_ADDRESS = {
    "line1": "Unit 1 Sample Business Park",
    "town": "Reading",
    "postcode": "RG1 1AA",
}


def _change_in_review(w: World) -> str:
    """A legal-name change of A waiting for the operator (made once, outside the savepoints)."""
    cached = w.__dict__.get("_change_in_review")
    if cached is not None:
        return str(cached)
    from flexreg.accounts.acting import acting_for
    from flexreg.participants import services_changes
    from flexreg.participants.models import Membership
    from flexreg.participants.schemas_changes import ChangeIn

    membership = (
        Membership.objects.select_related("user", "participant_role__participant")
        .filter(participant_role__participant=w.a, is_authorised_person=True)
        .order_by("pk")
        .first()
    )
    assert membership is not None
    change = services_changes.request_change(
        acting_for(membership.user, membership, via="session"),
        w.a,
        ChangeIn.model_validate({"field": "legal_name", "legal_name": "Not On The Register Ltd"}),
    )
    change = services_changes.run_change_check(change.pk)
    assert change.status == "needs_review", change.reasons
    w.__dict__["_change_in_review"] = str(change.public_id)
    return str(change.public_id)


SCENARIOS = [
    Scenario(
        "POST /api/v1/participants/{participant_id}/changes",
        lambda w: (
            f"/participants/{w.a.participant_id}/changes",
            {"field": "registered_address", "registered_address": REGISTER_ADDRESS},
        ),
        # changes come from the participant's own people: the operator decides, not asks
        _expect(401, 404, 403, 201, 404),
    ),
    Scenario(
        "GET /api/v1/participants/{participant_id}/changes",
        lambda w: (f"/participants/{w.a.participant_id}/changes", None),
        _expect(401, 404, 403, 200, 200),
    ),
    Scenario(
        "GET /api/v1/operator/participant-changes",
        lambda w: ("/operator/participant-changes", None),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/operator/participant-changes/{change_id}/decision",
        lambda w: (
            f"/operator/participant-changes/{_change_in_review(w)}/decision",
            {"decision": "reject", "reason": "No evidence of the new name"},
        ),
        _expect(401, 403, 403, 403, 200),
    ),
    Scenario(
        "POST /api/v1/participants/{participant_id}/offboard",
        lambda w: (f"/participants/{w.a.participant_id}/offboard", {"reason": "Leaving"}),
        # the Authorised Person off-boards their own participant; the operator any
        _expect(401, 404, 403, 200, 200),
    ),
]
