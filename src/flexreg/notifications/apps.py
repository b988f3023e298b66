from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "flexreg.notifications"
    label = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from flexreg.notifications import tasks  # noqa: F401  (registers the retry job)
