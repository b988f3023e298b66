"""Portal pages (each view declares its permission with ``@portal_requires``)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from flexreg.notifications import views

urlpatterns: list[Any] = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read-all/", views.read_all, name="inbox-read-all"),
    path("inbox/preferences/", views.preferences, name="notification-preferences"),
    path("inbox/<str:notification_id>/read/", views.read, name="inbox-read"),
    path("inbox/<str:notification_id>/open/", views.open_, name="inbox-open"),
]
