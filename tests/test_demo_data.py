"""``flexreg demo``'s data loads (twice, idempotently) and shows market entry under way."""

from __future__ import annotations

import pytest

from flexreg.entry.models import Answer, AnswerStatus, EicRecord, EntryCase
from flexreg.ops import demo

pytestmark = pytest.mark.django_db


def test_demo_data_loads_twice_and_shows_market_entry_under_way() -> None:
    first = demo.load_demo_data()
    second = demo.load_demo_data()
    assert first == second
    assert any(demo.FSP_EMAIL in line for line in first)
    case = EntryCase.objects.get(participant_role__participant__company_number="99000006")
    statuses = dict(case.requests.values_list("step_key", "status"))
    assert statuses["organisation_verified"] == "accepted"
    assert statuses["technical_contact"] == "accepted"
    assert statuses["insurance_certificate"] == "answered"
    assert (
        Answer.objects.filter(
            request__case=case, status=AnswerStatus.PENDING_REVIEW, document__isnull=False
        ).count()
        == 1
    )
    assert EicRecord.objects.filter(code__startswith="48X").exists()


def test_demo_data_shows_assets_in_their_states() -> None:
    from flexreg.assets.models import Asset

    lines = demo.load_demo_data()
    demo.load_demo_data()
    assert any(demo.ASSETS_EMAIL in line for line in lines)
    statuses = sorted(
        Asset.objects.filter(registered_by__company_number="99000005").values_list(
            "status", flat=True
        )
    )
    assert len(statuses) == 4
    assert "draft" in statuses and "decommissioned" in statuses and "query" in statuses
    assert set(statuses) - {"draft", "decommissioned"} <= {
        "pending_validation",
        "verified",
        "query",
    }
    # The depot battery has a second party: the market-entry demo's participant owns it.
    from flexreg.assets.models import AssetLink

    owners = AssetLink.objects.filter(
        asset__name="Cambridge depot battery", relationship="legal_owner"
    ).values_list("participant__company_number", flat=True)
    assert list(owners) == ["99000006"]
