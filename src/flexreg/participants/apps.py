from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "flexreg.participants"
    label = "participants"
    verbose_name = "Participants"

    def ready(self) -> None:
        from flexreg.participants import tasks  # noqa: F401  (periodic jobs register on import)
