from django.apps import AppConfig


class EntryConfig(AppConfig):
    name = "flexreg.entry"
    label = "entry"
    verbose_name = "Managed market entry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers and periodic jobs (core.scheduler) register on import.
        from flexreg.entry import (  # noqa: F401
            check_runners,
            receivers,
            reminders,
            system_checks,
            tasks,
            tasks_documents,
        )
