"""The portal's pages. Every view declares its permission with ``@portal_requires``."""

from django.urls import path

from flexreg.accounts import views as accounts
from flexreg.participants import views as participants

urlpatterns = [
    path("", accounts.home, name="home"),
    path("sign-in/", accounts.sign_in, name="sign-in"),
    path("sign-out/", accounts.sign_out, name="sign-out"),
    path("create-account/", accounts.create_account, name="create-account"),
    path("register/", participants.register_start, name="register"),
    path(
        "register/organisation/", participants.register_organisation, name="register-organisation"
    ),
    path("register/declaration/", participants.register_declaration, name="register-declaration"),
    path("register/roles/", participants.register_roles, name="register-roles"),
    path("register/check/", participants.register_check, name="register-check"),
    path("register/individual/", participants.register_individual, name="register-individual"),
    path("participants/", participants.my_participants, name="my-participants"),
    path("participants/<str:participant_id>/", participants.participant_detail, name="participant"),
    path("acting/", participants.switch_acting, name="switch-acting"),
    path("operator/verifications/", participants.review_queue, name="review-queue"),
    path(
        "operator/verifications/<str:verification_id>/",
        participants.review_detail,
        name="review-detail",
    ),
]
