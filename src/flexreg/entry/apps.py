from django.apps import AppConfig


class EntryConfig(AppConfig):
    name = "flexreg.entry"
    label = "entry"
    verbose_name = "Managed market entry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from flexreg.entry import checks, receivers, tasks  # noqa: F401  (register)
