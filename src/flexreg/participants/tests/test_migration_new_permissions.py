"""Migration participants.0007 gives existing Authorised Persons the permissions added to the
catalogue since they were granted access (where their role may hold them), and nothing
else: a narrowed Authorised Person keeps what it was narrowed to otherwise."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps

from flexreg.participants.models import Membership

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "flexreg.participants.migrations.0007_grant_new_permissions_to_authorised_persons"
)


def test_authorised_persons_get_the_new_permissions_their_role_may_hold(
    registered: Any, operator: Any
) -> None:
    user, _, _ = registered()
    ap = Membership.objects.get(user=user, participant_role__role="FSP")
    assert ap.is_authorised_person
    ap.permissions = ["participant:read"]  # narrowed, and from before assets existed
    ap.save(update_fields=["permissions"])
    _, operator_membership = operator
    operator_membership.permissions = [
        p for p in operator_membership.permissions if not p.startswith("asset")
    ]
    operator_membership.save(update_fields=["permissions"])

    migration.grant(apps, None)

    ap.refresh_from_db()
    assert "participant:read" in ap.permissions
    assert {"assets:register", "assets:read", "entry:read", "market:operate"} <= set(ap.permissions)
    assert "memberships:manage" not in ap.permissions  # not new: stays narrowed
    assert "assets:review" not in ap.permissions  # not an FSP's
    operator_membership.refresh_from_db()
    assert {"assets:review", "asset_catalogue:manage"} <= set(operator_membership.permissions)
