from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "flexreg.core"
    label = "core"
    verbose_name = "FlexReg core"

    def ready(self) -> None:
        # System checks and periodic jobs register on import.
        from flexreg.core import checks, housekeeping  # noqa: F401
