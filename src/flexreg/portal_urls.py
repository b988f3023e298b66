"""The portal's pages. Every view declares its permission with ``@portal_requires``."""

from django.urls import include, path, re_path

from flexreg.accounts import views as accounts
from flexreg.participants import views as participants
from flexreg.participants import views_access as access

urlpatterns = [
    path("", accounts.home, name="home"),
    path("sign-in/", accounts.sign_in, name="sign-in"),
    path("sign-out/", accounts.sign_out, name="sign-out"),
    path("create-account/", accounts.create_account, name="create-account"),
    # --- sign-in (allauth: OIDC providers, email verification, TOTP); see docs/sign-in.md ---
    path("my-access/", accounts.my_access, name="my-access"),
    path("my-access/tokens/<str:key_id>/revoke/", accounts.revoke_my_token, name="revoke-my-token"),
    path("mfa/verify/", accounts.mfa_verify, name="mfa-verify"),
    path("accounts/login/", accounts.to_sign_in, name="account_login"),
    path("accounts/signup/", accounts.to_create_account, name="account_signup"),
    path("accounts/logout/", accounts.sign_out, name="account_logout"),
    path("accounts/inactive/", accounts.account_inactive, name="account_inactive"),
    path("accounts/email/", accounts.to_my_access, name="account_email"),
    path(
        "accounts/confirm-email/",
        accounts.email_verification_sent,
        name="account_email_verification_sent",
    ),
    re_path(
        r"^accounts/confirm-email/(?P<key>[-:\w]+)/$",
        accounts.confirm_email,
        name="account_confirm_email",
    ),
    path("accounts/reauthenticate/", accounts.reauthenticate, name="account_reauthenticate"),
    path("accounts/2fa/", accounts.mfa_index, name="mfa_index"),
    path("accounts/2fa/authenticate/", accounts.mfa_authenticate, name="mfa_authenticate"),
    path("accounts/2fa/reauthenticate/", accounts.mfa_reauthenticate, name="mfa_reauthenticate"),
    path("accounts/2fa/totp/activate/", accounts.totp_activate, name="mfa_activate_totp"),
    path("accounts/2fa/totp/deactivate/", accounts.totp_deactivate, name="mfa_deactivate_totp"),
    path("accounts/2fa/recovery-codes/", accounts.recovery_codes, name="mfa_view_recovery_codes"),
    path(
        "accounts/2fa/recovery-codes/generate/",
        accounts.recovery_codes_generate,
        name="mfa_generate_recovery_codes",
    ),
    path(
        "accounts/2fa/recovery-codes/download/",
        accounts.recovery_codes_download,
        name="mfa_download_recovery_codes",
    ),
    path("accounts/3rdparty/", accounts.to_my_access, name="socialaccount_connections"),
    path(
        "accounts/3rdparty/login/cancelled/",
        accounts.oidc_cancelled,
        name="socialaccount_login_cancelled",
    ),
    path("accounts/3rdparty/login/error/", accounts.oidc_error, name="socialaccount_login_error"),
    path("accounts/3rdparty/signup/", accounts.oidc_signup, name="socialaccount_signup"),
    path(
        "accounts/oidc/<str:provider_id>/login/",
        accounts.oidc_login,
        name="openid_connect_login",
    ),
    path(
        "accounts/oidc/<str:provider_id>/login/callback/",
        accounts.oidc_callback,
        name="openid_connect_callback",
    ),
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
    path("participants/<str:participant_id>/users/", access.users, name="users"),
    path(
        "participants/<str:participant_id>/users/invite/",
        access.users_invite,
        name="users-invite",
    ),
    path(
        "participants/<str:participant_id>/users/<str:membership_id>/",
        access.users_change,
        name="users-change",
    ),
    path(
        "participants/<str:participant_id>/users/<str:membership_id>/revoke/",
        access.users_revoke,
        name="users-revoke",
    ),
    path(
        "participants/<str:participant_id>/users/<str:membership_id>/authorised-person/",
        access.users_make_authorised_person,
        name="users-make-authorised-person",
    ),
    path(
        "participants/<str:participant_id>/users/requests/<str:request_id>/approve/",
        access.users_request_decision,
        {"decision": "approve"},
        name="users-request-approve",
    ),
    path(
        "participants/<str:participant_id>/users/requests/<str:request_id>/reject/",
        access.users_request_decision,
        {"decision": "reject"},
        name="users-request-reject",
    ),
    path(
        "participants/<str:participant_id>/users/invitations/<str:invitation_id>/revoke/",
        access.users_invitation_revoke,
        name="users-invitation-revoke",
    ),
    path("invitations/accept/", access.invitation_accept, name="invitation-accept"),
    path("acting/", participants.switch_acting, name="switch-acting"),
    path("", include("flexreg.entry.urls")),
    path("", include("flexreg.notifications.urls")),
    path("", include("flexreg.participants.urls_changes")),
    path("", include("flexreg.assets.urls")),
    path("operator/verifications/", participants.review_queue, name="review-queue"),
    path(
        "operator/verifications/<str:verification_id>/",
        participants.review_detail,
        name="review-detail",
    ),
]
