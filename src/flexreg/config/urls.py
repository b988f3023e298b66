from django.urls import path

from flexreg.config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
]
