"""The portal's asset pages (mounted at the portal's root by ``portal_urls``)."""

from django.urls import path

from flexreg.assets import views, views_catalogue, views_lifecycle, views_links, views_review

urlpatterns = [
    path("operator/asset-catalogue/", views_catalogue.catalogue_page, name="asset-catalogue"),
    path(
        "operator/asset-catalogue/add/<str:section>/",
        views_catalogue.add_page,
        name="asset-catalogue-add",
    ),
    path(
        "operator/asset-catalogue/<str:section>/<str:code>/",
        views_catalogue.value_page,
        name="asset-catalogue-value",
    ),
    path("operator/assets/queue/", views_review.queue_page, name="asset-queue"),
    path(
        "operator/assets/<str:asset_id>/decision/",
        views_review.decide_page,
        name="asset-decision",
    ),
    path("assets/", views.asset_list, name="assets"),
    path("assets/register/", views.register_start, name="asset-register"),
    path(
        "assets/register/<str:category>/",
        views.register_category,
        name="asset-register-category",
    ),
    path("assets/imports/new/", views.import_new, name="asset-import-new"),
    path(
        "assets/imports/templates/<str:category>.csv",
        views.import_template,
        name="asset-import-template",
    ),
    path("assets/imports/<str:import_id>/", views.import_detail, name="asset-import"),
    path(
        "assets/imports/<str:import_id>/results.csv",
        views.import_results,
        name="asset-import-results",
    ),
    path("assets/<str:asset_id>/", views.asset_detail, name="asset"),
    path("assets/<str:asset_id>/draft/", views_lifecycle.draft_edit, name="asset-draft"),
    path(
        "assets/<str:asset_id>/discard/", views_lifecycle.draft_discard, name="asset-draft-discard"
    ),
    path(
        "assets/<str:asset_id>/decommission/",
        views_lifecycle.decommission,
        name="asset-decommission",
    ),
    path("assets/<str:asset_id>/parties/", views_links.parties, name="asset-parties"),
    path("assets/<str:asset_id>/parties/add/", views_links.add, name="asset-party-add"),
    path(
        "assets/<str:asset_id>/parties/<str:link_id>/end/",
        views_links.end,
        name="asset-link-end",
    ),
]
