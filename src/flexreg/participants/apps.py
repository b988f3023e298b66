from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "flexreg.participants"
    label = "participants"
    verbose_name = "Participants"
