"""The real URLs plus two views that fail, to see the 500 pages' headers."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from flexreg.config.urls import handler404, handler500
from flexreg.config.urls import urlpatterns as real


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), path("api/v1/boom", boom), *real]
__all__ = ["handler404", "handler500", "urlpatterns"]
