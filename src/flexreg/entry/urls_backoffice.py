"""Portal pages (each view declares its permission with ``@portal_requires``): the central
operator's back office for market entry, under ``/operator/entry/``."""

from __future__ import annotations

from typing import Any

from django.urls import path

from flexreg.entry import views_backoffice as views

P = "operator/entry/"

urlpatterns: list[Any] = [
    path(P, views.overview, name="entry-backoffice"),
    path(f"{P}queues/reviews/", views.queue, {"queue": "reviews"}, name="entry-queue-reviews"),
    path(f"{P}queues/cases/", views.queue, {"queue": "cases"}, name="entry-queue-cases"),
    path(
        f"{P}queues/escalations/",
        views.queue,
        {"queue": "escalations"},
        name="entry-queue-escalations",
    ),
    path(f"{P}bulk/", views.bulk, name="entry-bulk"),
    path(f"{P}dashboard/", views.dashboard, name="entry-dashboard"),
    path(f"{P}cases/", views.cases, name="entry-cases"),
    path(f"{P}cases/<str:case_id>/", views.case_detail, name="entry-case"),
    path(f"{P}cases/<str:case_id>/decision/", views.decide, name="entry-case-decision"),
    path(f"{P}cases/<str:case_id>/assign/", views.assign_case, name="entry-case-assign"),
    path(f"{P}cases/<str:case_id>/requests/new/", views.new_request, name="entry-case-request"),
    path(
        f"{P}requests/<str:request_id>/cancel/", views.cancel_request, name="entry-request-cancel"
    ),
    path(f"{P}answers/<str:answer_id>/review/", views.review, name="entry-answer-review"),
]
