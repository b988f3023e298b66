from django.urls import include, path

from flexreg.config.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("flexreg.portal_urls")),
]

handler404 = "flexreg.accounts.views.not_found"
handler500 = "flexreg.accounts.views.server_error"
