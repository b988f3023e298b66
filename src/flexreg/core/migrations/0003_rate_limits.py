from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only")]

    operations = [
        migrations.CreateModel(
            name="RateLimitCounter",
            fields=[
                ("key", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("count", models.IntegerField(default=0)),
                ("window_start", models.DateTimeField()),
                ("expires_at", models.DateTimeField(db_index=True)),
                ("locked_until", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        # Counters are short-lived and cheap to lose: no WAL per sign-in, not replicated.
        migrations.RunSQL(
            "ALTER TABLE core_ratelimitcounter SET UNLOGGED",
            "ALTER TABLE core_ratelimitcounter SET LOGGED",
        ),
    ]
