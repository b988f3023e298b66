from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "flexreg.core"
    label = "core"
    verbose_name = "FlexReg core"

    def ready(self) -> None:
        from flexreg.core import checks  # noqa: F401  (registers the system checks)
