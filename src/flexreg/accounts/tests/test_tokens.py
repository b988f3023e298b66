"""Personal API tokens: shown once, stored hashed, expiring, revocable, bound to a membership."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from conftest import Api
from flexreg.accounts import tokens
from flexreg.accounts.models import ApiToken
from flexreg.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_token_is_stored_as_a_digest_only(make_user: Any, token_for: Any) -> None:
    clear = token_for(make_user())
    row = ApiToken.objects.get()
    assert clear not in (row.digest, row.key_id) and row.digest == tokens.digest(clear)
    assert clear.startswith(f"frt_{row.key_id}_")


def test_create_list_and_revoke_through_the_api(registered: Any) -> None:
    _, body, api = registered()
    label = f"{body['participant_id']}/FSP"
    created = api.post(
        "/me/tokens", {"name": "CI robot", "membership": label, "expires_in_days": 7}
    )
    assert created.status_code == 201
    new = created.json()
    assert new["membership"] == label and new["token"].startswith("frt_")
    listed = api.get("/me/tokens").json()
    assert all("token" not in t for t in listed)
    assert new["key_id"] in {t["key_id"] for t in listed}
    robot = Api(new["token"])
    me = robot.get("/me").json()
    assert me["acting_as"] == label
    assert api.delete(f"/me/tokens/{new['key_id']}").status_code == 200
    assert robot.get("/me").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked", object_id=new["key_id"]).exists()
    assert AuditEvent.objects.filter(action="api_token.issued", object_id=new["key_id"]).exists()


def test_token_cannot_bind_someone_elses_membership(
    registered: Any, make_user: Any, api_for: Any
) -> None:
    _, body, _ = registered()
    stranger = api_for(make_user())
    response = stranger.post(
        "/me/tokens", {"name": "x", "membership": f"{body['participant_id']}/FSP"}
    )
    assert response.status_code == 404


def test_expired_and_revoked_tokens_fail(make_user: Any, token_for: Any) -> None:
    user = make_user()
    clear = token_for(user)
    api = Api(clear)
    assert api.get("/me").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api.get("/me").status_code == 401
    ApiToken.objects.update(
        expires_at=timezone.now() + dt.timedelta(days=1), revoked_at=timezone.now()
    )
    assert api.get("/me").status_code == 401


def test_deactivated_user_loses_api_access_at_once(make_user: Any, token_for: Any) -> None:
    user = make_user()
    api = Api(token_for(user))
    user.is_active = False
    user.save()
    assert api.get("/me").status_code == 401


def test_tampered_token_fails(make_user: Any, token_for: Any) -> None:
    clear = token_for(make_user())
    assert Api(clear[:-1] + ("A" if clear[-1] != "A" else "B")).get("/me").status_code == 401


def test_expiry_is_capped(registered: Any) -> None:
    _, _, api = registered()
    too_long = api.post("/me/tokens", {"name": "forever", "expires_in_days": 5000})
    assert too_long.status_code == 422


def test_operator_create_prints_a_working_token_once(db: Any, capsys: Any) -> None:
    call_command("operator", "create", "Chief@FlexReg.test")
    out = capsys.readouterr().out.strip().splitlines()
    token = out[-1]
    me = Api(token).get("/me").json()
    assert me["email"] == "chief@flexreg.test"
    assert me["acting_as"].endswith("/MARKET_FACILITATOR")
    assert "verification:review" in me["memberships"][0]["effective_permissions"]
    # Running it again for the same person reuses the operator participant.
    call_command("operator", "create", "chief@flexreg.test")
    assert (
        len(
            {
                m["participant_id"]
                for m in Api(capsys.readouterr().out.strip().splitlines()[-1])
                .get("/me")
                .json()["memberships"]
            }
        )
        == 1
    )


def test_operator_create_makes_a_regulator_with_oversight_permissions(db: Any, capsys: Any) -> None:
    call_command(
        "operator",
        "create",
        "inspector@ofgem.test",
        "--role",
        "REGULATOR",
        "--organisation",
        "Ofgem",
    )
    api = Api(capsys.readouterr().out.strip().splitlines()[-1])
    me = api.get("/me").json()
    assert me["acting_as"].endswith("/REGULATOR")
    effective = set(me["memberships"][0]["effective_permissions"])
    assert {"participants:read_all", "audit:read_all"} <= effective
    assert "verification:review" not in effective
    assert api.get("/participants").status_code == 200
    assert api.get("/operator/verifications").status_code == 403
    with pytest.raises(CommandError):
        call_command("operator", "create", "x@ofgem.test", "--role", "REGULATOR")
