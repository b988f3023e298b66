from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "flexreg.assets"
    label = "assets"
    verbose_name = "Assets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from flexreg.assets import tasks  # noqa: F401  (periodic job, system check)
