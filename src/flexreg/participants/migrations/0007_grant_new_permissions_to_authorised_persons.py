"""Authorised Persons (central operators included: they are their body's Authorised Persons)
hold the permissions their role may hold that were added to the catalogue after they were
granted access: market entry (``entry:*``, ``entry_rules:manage``, ``market:operate``) and
assets (``assets:*``, ``asset_catalogue:manage``). Permissions an Authorised Person was
deliberately given fewer of stay as they were: only these new codes are added, and only where
the role may hold them (docs/decisions/0017, "New permissions and existing users")."""

from django.db import migrations

NEW_PERMISSIONS = (
    "entry:read",
    "entry:answer",
    "entry:review",
    "entry:read_all",
    "entry_rules:manage",
    "market:operate",
    "assets:register",
    "assets:read",
    "assets:read_all",
    "assets:review",
    "asset_catalogue:manage",
)


def grant(apps, schema_editor):
    from flexreg.core import permissions as catalogue

    Membership = apps.get_model("participants", "Membership")
    for membership in Membership.objects.filter(
        is_authorised_person=True, is_active=True
    ).select_related("participant_role"):
        allowed = catalogue.allowed_for_role(membership.participant_role.role)
        wanted = {code for code in NEW_PERMISSIONS if code in allowed}
        if not wanted <= set(membership.permissions):
            membership.permissions = sorted({*membership.permissions, *wanted})
            membership.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("participants", "0006_withdrawn_company_may_register_again")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
