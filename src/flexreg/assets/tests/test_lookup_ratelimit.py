"""POST /api/v1/assets/lookup is limited per participant (``ASSET_LOOKUP_RATE``), so the
register cannot be probed meter by meter: past the limit, 429 problem details with
``Retry-After``; other participants keep their own count, the participant's other roles share
it;
the window ends and the caller may look up again; with rate limits off nothing is counted."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from conftest import Api
from flexreg.assets import ratelimits
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import IMPORT_MPAN, Registrant
from flexreg.core.acting import Acting

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
rival = helpers_registration.rival

PROBE = {"mpan": IMPORT_MPAN}


@pytest.fixture
def limited(settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = True
    settings.ASSET_LOOKUP_RATE = "3/60"


def _statuses(api: Api, n: int) -> list[int]:
    return [api.post("/assets/lookup", PROBE).status_code for _ in range(n)]


def test_past_the_limit_a_participant_gets_429_with_retry_after(
    fsp: Registrant, limited: None
) -> None:
    assert _statuses(fsp.api, 3) == [200, 200, 200]
    refused = fsp.api.post("/assets/lookup", PROBE)
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/problem+json")
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 60
    body = refused.json()
    assert body["status"] == 429 and body["code"] == "rate_limited"
    assert body["retry_after"] == retry_after
    assert "at most 3 every 60 seconds" in body["detail"]


def test_each_participant_counts_on_its_own(
    fsp: Registrant, rival: Registrant, api_for: Any, limited: None
) -> None:
    from flexreg.participants.models import Membership

    assert _statuses(fsp.api, 4)[-1] == 429
    assert _statuses(rival.api, 3) == [200, 200, 200]
    # The same participant's other role shares its count (more roles, no more look-ups).
    other = (
        Membership.objects.filter(user=fsp.user)
        .exclude(pk=fsp.membership.pk)
        .select_related("participant_role")
        .get()
    )
    assert other.participant_role.role == "ASSET_OWNER"
    assert _statuses(api_for(fsp.user, other), 1) == [429]


def test_the_caller_may_look_up_again_once_the_window_ends(fsp: Registrant, limited: None) -> None:
    assert _statuses(fsp.api, 4)[-1] == 429
    with connection.cursor() as cur:  # the window's end passes
        cur.execute(
            "UPDATE core_ratelimitcounter SET expires_at = clock_timestamp() WHERE key = %s",
            [f"rl:asset-lookup:p:{fsp.participant_pk}"],
        )
        assert cur.rowcount == 1
    assert _statuses(fsp.api, 3) == [200, 200, 200]


def test_a_refused_caller_is_not_counted(registered: Any, api_for: Any, limited: None) -> None:
    user, _, _ = registered()
    bare = api_for(user)  # a token acting for no membership: no assets:read
    assert _statuses(bare, 5) == [403] * 5
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM core_ratelimitcounter WHERE key LIKE 'rl:asset-lookup:%%'"
        )
        assert cur.fetchone() == (0,)


def test_with_rate_limits_off_nothing_is_counted(fsp: Registrant, settings: Any) -> None:
    settings.RATE_LIMITS_ENABLED = False
    settings.ASSET_LOOKUP_RATE = "1/60"
    assert _statuses(fsp.api, 3) == [200, 200, 200]


def test_the_default_rate_is_generous_and_a_bad_setting_falls_back_to_it(settings: Any) -> None:
    del settings.ASSET_LOOKUP_RATE
    assert ratelimits.lookup_rate() == ratelimits.ratelimit.Limit(120, 60)
    settings.ASSET_LOOKUP_RATE = "lots"  # logged as an error
    assert ratelimits.lookup_rate() == ratelimits.ratelimit.Limit(120, 60)
    settings.ASSET_LOOKUP_RATE = "30/10"
    assert ratelimits.lookup_rate() == ratelimits.ratelimit.Limit(30, 10)


def test_who_is_counted() -> None:
    base = {"user_label": "x", "participant_pk": 1, "participant_id": "P", "role": "FSP"}
    member = Acting(user_id=7, via="token", membership_id=3, **base)
    platform_person = Acting(user_id=7, via="token", platform_participant_id="Q", **base)
    machine = Acting(user_id=None, via="service_account", service_account_id=5, **base)
    assert ratelimits.lookup_key(member) == "rl:asset-lookup:p:1"
    assert ratelimits.lookup_key(platform_person) == "rl:asset-lookup:p:1"
    assert ratelimits.lookup_key(machine) == "rl:asset-lookup:p:1"
    no_participant = {"user_label": "x", "participant_pk": None, "participant_id": None}
    lone_machine = Acting(
        user_id=None, via="service_account", service_account_id=5, **no_participant
    )
    assert ratelimits.lookup_key(lone_machine) == "rl:asset-lookup:sa:5"
    assert ratelimits.lookup_key(Acting(user_id=7, via="token", **no_participant)) == (
        "rl:asset-lookup:u:7"
    )
    assert ratelimits.lookup_key(Acting.system("t")) is None
