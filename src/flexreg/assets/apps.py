from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "flexreg.assets"
    label = "assets"
    verbose_name = "Assets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Periodic jobs (retries, resumed imports) and system checks register on import.
        from flexreg.assets import role_rules, tasks, tasks_imports  # noqa: F401
