"""Migration participants.0007 gives Authorised Persons granted before a permission existed
that permission (where their role may hold it), audited; an Authorised Person granted since
keeps exactly what it was given."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from django.apps import apps

from flexreg.core.models import AuditEvent
from flexreg.participants.models import Membership

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "flexreg.participants.migrations.0007_grant_new_permissions_to_authorised_persons"
)
BEFORE_ENTRY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
BETWEEN = dt.datetime(2026, 11, 27, 21, 0, tzinfo=dt.UTC)  # after entry:*, before assets:*


def _narrowed(membership: Membership, permissions: list[str], created_at: dt.datetime) -> None:
    membership.permissions = permissions
    membership.created_at = created_at
    membership.save(update_fields=["permissions", "created_at"])


def test_authorised_persons_get_what_was_added_since_they_were_granted(
    registered: Any, operator: Any
) -> None:
    user, _, _ = registered()
    ap = Membership.objects.get(user=user, participant_role__role="FSP")
    _narrowed(ap, ["participant:read"], BETWEEN)
    _, operator_membership = operator
    _narrowed(operator_membership, ["verification:review"], BEFORE_ENTRY)

    migration.grant(apps, None)

    ap.refresh_from_db()
    assert "assets:register" in ap.permissions and "assets:read" in ap.permissions
    assert "entry:read" not in ap.permissions  # existed when it was granted: left narrowed
    assert "assets:review" not in ap.permissions  # not an FSP's
    operator_membership.refresh_from_db()
    assert {"entry:review", "assets:review", "asset_catalogue:manage"} <= set(
        operator_membership.permissions
    )
    events = AuditEvent.objects.filter(action="membership.changed", actor_label__contains="0007")
    assert events.count() == 2


def test_authorised_persons_granted_since_are_left_as_they_are(registered: Any) -> None:
    user, _, _ = registered()
    ap = Membership.objects.get(user=user, participant_role__role="FSP")
    _narrowed(ap, ["participant:read"], dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC))
    migration.grant(apps, None)
    ap.refresh_from_db()
    assert ap.permissions == ["participant:read"]
