"""Portal pages (each view declares its permission with ``@portal_requires``)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from flexreg.entry import views_documents as views

urlpatterns: list[Any] = [
    path("documents/<str:document_id>/", views.download, name="document-download"),
]
