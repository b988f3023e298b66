"""Matrix rows for the consent service's signed notices: no bearer token opens them."""

from __future__ import annotations

from tests.matrix.base import Scenario, _expect

SCENARIOS = [
    Scenario(
        "POST /api/v1/consent/revocations",
        lambda w: (
            "/consent/revocations",
            {
                "notice_id": "n-1",
                "consent_reference": "CNS-X",
                "revoked_at": "2025-05-01T10:00:00Z",
            },
        ),
        _expect(401, 401, 401, 401, 401),  # unsigned: 401 even with a token
    ),
]
