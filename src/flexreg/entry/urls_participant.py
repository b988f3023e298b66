"""Portal pages (each view declares its permission with ``@portal_requires``)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from flexreg.entry import views_participant as views

urlpatterns: list[Any] = [
    path(
        "participants/<str:participant_id>/entry/",
        views.overview,
        name="entry-overview",
    ),
    path(
        "participants/<str:participant_id>/entry/<str:role>/",
        views.task_list,
        name="entry-task-list",
    ),
    path(
        "participants/<str:participant_id>/entry/<str:role>/requests/<str:request_id>/",
        views.step,
        name="entry-step",
    ),
    path(
        "participants/<str:participant_id>/entry/<str:role>/requests/<str:request_id>/answer/",
        views.answer,
        name="entry-answer",
    ),
]
