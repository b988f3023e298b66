"""Market entry's portal pages: the participant's task lists, documents, the back office."""

from django.urls import include, path

urlpatterns = [
    path("", include("flexreg.entry.urls_participant")),
    path("", include("flexreg.entry.urls_documents")),
    path("", include("flexreg.entry.urls_backoffice")),
]
