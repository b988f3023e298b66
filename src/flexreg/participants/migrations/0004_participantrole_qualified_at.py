from django.db import migrations, models


def grandfather_active_roles(apps, schema_editor):
    """Roles active before market entry existed were admitted by the operator: they stay
    operational (docs/decisions/0011)."""
    ParticipantRole = apps.get_model("participants", "ParticipantRole")
    ParticipantRole.objects.filter(status="active").update(
        qualified_at=models.F("status_changed_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0003_delegation_platforms"),
    ]

    operations = [
        migrations.AddField(
            model_name="participantrole",
            name="qualified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(grandfather_active_roles, migrations.RunPython.noop),
    ]
