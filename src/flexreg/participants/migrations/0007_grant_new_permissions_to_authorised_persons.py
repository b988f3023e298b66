"""Authorised Persons (central operators included: they are their body's Authorised Persons)
whose access was granted before a permission existed get it now, where their role may hold it:
market entry (``entry:*``, ``entry_rules:manage``, ``market:operate``) and assets
(``assets:*``, ``asset_catalogue:manage``). Only memberships created before the permission was
introduced: one granted since then holds exactly what it was given (decision 0008 lets an
Authorised Person be given fewer). Each change is audited (``membership.changed``)."""

import datetime as dt

from django.db import migrations

UTC = dt.UTC
_ENTRY = dt.datetime(2026, 11, 27, 20, 48, tzinfo=UTC)
_ASSETS = dt.datetime(2026, 11, 27, 21, 33, tzinfo=UTC)
_CATALOGUE = dt.datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
#: Each permission and when it was introduced (its release).
INTRODUCED = {
    "entry:read": _ENTRY,
    "entry:answer": _ENTRY,
    "entry:review": _ENTRY,
    "entry:read_all": _ENTRY,
    "entry_rules:manage": _ENTRY,
    "market:operate": _ENTRY,
    "assets:register": _ASSETS,
    "assets:read": _ASSETS,
    "assets:read_all": _ASSETS,
    "assets:review": _ASSETS,
    "asset_catalogue:manage": _CATALOGUE,
}


def grant(apps, schema_editor):
    from flexreg.core import audit
    from flexreg.core import permissions as catalogue
    from flexreg.core.acting import Acting

    system = Acting.system("migration participants.0007")
    Membership = apps.get_model("participants", "Membership")
    memberships = Membership.objects.filter(
        is_authorised_person=True, is_active=True, created_at__lt=max(INTRODUCED.values())
    ).select_related("participant_role__participant")
    for membership in memberships:
        held = membership.participant_role
        allowed = catalogue.allowed_for_role(held.role)
        wanted = {
            code
            for code, since in INTRODUCED.items()
            if membership.created_at < since and code in allowed
        }
        before = sorted(membership.permissions)
        after = sorted({*before, *wanted})
        if after == before:
            continue
        membership.permissions = after
        membership.save(update_fields=["permissions"])
        audit.record(
            system,
            "membership.changed",
            object_type="membership",
            object_id=f"{held.participant.participant_id}/{held.role}/{membership.user_id}",
            subject_participant_id=held.participant.participant_id,
            before={"permissions": before},
            after={"permissions": after, "why": "permissions added to the catalogue since"},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0006_withdrawn_company_may_register_again"),
        ("core", "0004_scheduled_jobs"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
