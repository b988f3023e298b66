"""The registrant is told the central operator's decision on an asset in query (verified or
rejected, with the operator's reason): an inbox notification and an email once the decision
commits, to the registrant's people only; the asset page shows the reason."""

from __future__ import annotations

from typing import Any

import pytest
from tests.signin import helpers as signin_helpers

from flexreg.assets import services_review
from flexreg.assets.models import Asset, AssetStatus
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_authenticity import IMMEDIATE, make_asset
from flexreg.assets.tests.helpers_registration import Registrant
from flexreg.notifications.models import Notification
from flexreg.participants.models import Participant

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
rival = helpers_registration.rival
qualify = helpers_registration.qualify

KIND = services_review.DECIDED_KIND


def _in_query(registrant: Registrant) -> Asset:
    participant = Participant.objects.get(pk=registrant.participant_pk)
    return make_asset(
        participant,
        registrant.user,
        status=AssetStatus.QUERY,
        status_reason="Authenticity checks did not pass:\n- Meter point registry: not found",
    )


def _decide(operator_api: Any, asset: Asset, decision: str, reason: str, capture: Any) -> Any:
    with capture(execute=True):
        response = operator_api.post(
            f"/operator/assets/{asset.asset_id}/decision",
            {"decision": decision, "reason": reason},
        )
    assert response.status_code == 200, response.content
    return response


@pytest.mark.parametrize(
    ("decision", "status", "word"),
    [("verify", AssetStatus.VERIFIED, "verified"), ("reject", AssetStatus.REJECTED, "rejected")],
)
def test_the_registrant_is_told_the_decision_and_its_reason(
    fsp: Registrant,
    rival: Registrant,
    operator_api: Any,
    settings: Any,
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
    decision: str,
    status: str,
    word: str,
) -> None:
    settings.TASKS = IMMEDIATE
    asset = _in_query(fsp)
    theirs = _in_query(rival)  # another participant's asset in query: not told anything
    reason = "Meter point confirmed by the DNO by telephone on 3 March"

    body = _decide(operator_api, asset, decision, reason, django_capture_on_commit_callbacks)

    assert body.json()["status"] == status
    told = list(Notification.objects.filter(kind=KIND))
    assert [(n.recipient_id, n.link) for n in told] == [(fsp.user.pk, f"/assets/{asset.asset_id}/")]
    notice = told[0]
    assert notice.participant_id == fsp.participant_id
    assert asset.asset_id in notice.subject and word in notice.subject
    assert reason in notice.body_text and reason in notice.body_html
    emails = [m for m in mailoutbox if m.subject.endswith(notice.subject)]
    assert [m.to for m in emails] == [[fsp.user.email]]
    assert reason in emails[0].body and f"/assets/{asset.asset_id}/" in emails[0].body
    assert not Notification.objects.filter(kind=KIND, recipient=rival.user).exists()
    assert all(rival.user.email not in m.to for m in emails)
    assert Asset.objects.get(pk=theirs.pk).status == AssetStatus.QUERY

    # The registrant sees the decision and its reason on the asset page.
    page = signin_helpers.portal_client(fsp.user, fsp.membership).get(f"/assets/{asset.asset_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert reason in html
    assert ("Verified" if status == AssetStatus.VERIFIED else "Rejected") in html


def test_nothing_is_told_when_the_decision_is_refused(
    fsp: Registrant, operator_api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    asset = _in_query(fsp)
    path = f"/operator/assets/{asset.asset_id}/decision"
    with django_capture_on_commit_callbacks(execute=True):
        assert operator_api.post(path, {"decision": "reject", "reason": " "}).status_code == 422
    _decide(operator_api, asset, "reject", "Not a real battery", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        again = operator_api.post(path, {"decision": "verify", "reason": "Changed my mind"})
    assert again.status_code == 409
    assert Notification.objects.filter(kind=KIND).count() == 1
