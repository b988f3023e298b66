"""The portal's asset pages (mounted at the portal's root by ``portal_urls``)."""

from django.urls import path

from flexreg.assets import views

urlpatterns = [
    path("assets/", views.asset_list, name="assets"),
    path("assets/register/", views.register_start, name="asset-register"),
    path(
        "assets/register/<str:category>/",
        views.register_category,
        name="asset-register-category",
    ),
    path("assets/imports/new/", views.import_new, name="asset-import-new"),
    path("assets/imports/<str:import_id>/", views.import_detail, name="asset-import"),
    path(
        "assets/imports/<str:import_id>/results.csv",
        views.import_results,
        name="asset-import-results",
    ),
    path("assets/<str:asset_id>/", views.asset_detail, name="asset"),
]
