"""Portal pages (each view declares its permission with ``@portal_requires``)."""

from __future__ import annotations

from django.urls import path

from flexreg.participants import views_changes as views

urlpatterns = [
    path(
        "participants/<str:participant_id>/changes/",
        views.changes,
        name="participant-changes",
    ),
    path(
        "participants/<str:participant_id>/changes/<str:field>/",
        views.change_field,
        name="participant-change-field",
    ),
    path(
        "operator/participant-changes/",
        views.review_queue,
        name="participant-changes-queue",
    ),
    path(
        "operator/participant-changes/<str:change_id>/",
        views.review_detail,
        name="participant-change-review",
    ),
]
