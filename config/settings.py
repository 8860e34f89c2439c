"""Settings for the Manage Center, read once from the environment.

With nothing set, the product runs on a laptop without servers: SQLite, a Celery
transport on the file system, and generated development keys under var/. Setting
DATABASE_URL and REDIS_URL switches to PostgreSQL and Redis. Setting DJANGO_DEBUG=false
turns on production mode, where every secret must come from the environment.
"""

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _read(name: str) -> str | None:
    """Return the variable NAME, or the contents of the file named by NAME_FILE."""
    value = os.environ.get(name)
    if value is not None:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}")
    return None


def env_str(name: str, default: str = "") -> str:
    value = _read(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _read(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = _read(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _read(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def _dev_secret(path: Path, make: "callable[[], str]") -> str:
    """Return a development secret kept in var/, creating it on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", True)
VAR_DIR = Path(env_str("MANAGE_CENTER_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is missing: production needs it.")
    SECRET_KEY = _dev_secret(VAR_DIR / "dev-secret-key", lambda: secrets.token_urlsafe(50))

# Keys for the secrets stored in the database, as "key-id:base64-of-32-bytes",
# comma-separated, newest first. The newest encrypts; every listed key decrypts.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is missing: production needs at least one key, "
            "for example dev1:<base64 of 32 random bytes>."
        )
    _dev_key = _dev_secret(
        VAR_DIR / "dev-field-key",
        lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
    )
    FIELD_ENCRYPTION_KEYS = [f"dev:{_dev_key}"]

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tenants",
    "tokens",
    "activities",
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The Page* classes are Django's and django-csp's, skipped by API calls.
    "config.middleware.PageSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.PageAuthenticationMiddleware",
    "config.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.PageCSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tenants.middleware.CurrentTenantMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "tenants.context_processors.current_tenant",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Persistent connections by default; DATABASE_POOL=true uses psycopg's pool
    # instead, which Django requires to run without persistent connections.
    _pooled = env_bool("DATABASE_POOL", False)
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=0 if _pooled else env_int("DATABASE_CONN_MAX_AGE", 60),
            # A health check is a SELECT 1 before each request's first query, a round
            # trip on every API call. Without it, a connection that the server closed
            # fails one request and is then replaced.
            conn_health_checks=(
                not _pooled and env_bool("DATABASE_CONN_HEALTH_CHECKS", False)
            ),
        )
    }
    # Server-side binding lets psycopg prepare a query that a connection runs for
    # the fifth time, so PostgreSQL stops planning the API key lookup on every call.
    # PgBouncer in transaction mode cannot keep prepared statements: set it false.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=5
        )
    if _pooled:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2, minimum=1),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20, minimum=1),
            "timeout": 10,
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The file-system transport lets a laptop run a worker and beat without a
    # broker server; producer and consumer share one folder.
    _celery_folder = VAR_DIR / "celery"
    (_celery_folder / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_folder),
        "data_folder_out": str(_celery_folder),
        "processed_folder": str(_celery_folder / "processed"),
        "control_folder": str(_celery_folder / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A renewal is acknowledged only once it ran, so a worker that dies takes no
# message with it; the token's renewal fields make a repeated run harmless.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int(
    "CELERY_WORKER_PREFETCH_MULTIPLIER", 16, minimum=1
)
# Keep each worker process's database connection between tasks: opening one per
# task costs more than a renewal's own queries.
CELERY_WORKER_DB_CONN_MAX_AGE = env_int("CELERY_WORKER_DB_CONN_MAX_AGE", 300)
# Celery's Django fixup (celery/fixups/django.py) closes every database connection
# after each task unless this is set. With it, a worker reconnects after this many
# tasks, and config/celery.py closes a broken or stale connection after each task,
# as Django does after a request. 0 restores a new connection per task.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
# How often beat runs the renewal sweep, and how many due tokens one sweep queues.
TOKEN_RENEWAL_SWEEP_SECONDS = env_int("TOKEN_RENEWAL_SWEEP_SECONDS", 60, minimum=1)
TOKEN_RENEWAL_BATCH_SIZE = env_int("TOKEN_RENEWAL_BATCH_SIZE", 500, minimum=1)
TOKEN_RENEWAL_MAX_PER_SWEEP = env_int("TOKEN_RENEWAL_MAX_PER_SWEEP", 20000, minimum=1)
# A queued renewal whose message was lost (a broker restart) is queued again
# after this long.
TOKEN_RENEWAL_QUEUE_SECONDS = env_int("TOKEN_RENEWAL_QUEUE_SECONDS", 120, minimum=1)
# A renewer owns a token's refresh for this long; it must outlast a token request.
TOKEN_RENEWAL_LEASE_SECONDS = env_int("TOKEN_RENEWAL_LEASE_SECONDS", 30, minimum=1)
# Failed renewals are retried after BASE, 2 x BASE, ... up to MAX seconds, with
# jitter.
TOKEN_RENEWAL_BACKOFF_SECONDS = env_int("TOKEN_RENEWAL_BACKOFF_SECONDS", 30, minimum=1)
TOKEN_RENEWAL_BACKOFF_MAX_SECONDS = env_int(
    "TOKEN_RENEWAL_BACKOFF_MAX_SECONDS", 300, minimum=1
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_ADAPTER = "tenants.adapters.AccountAdapter"
ACCOUNT_ALLOW_SIGNUPS = env_bool("ACCOUNT_ALLOW_SIGNUPS", False)
LOGIN_REDIRECT_URL = "tokens:list"
LOGIN_URL = "account_login"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "manage-center@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
if DEBUG:
    # WhiteNoise warns about a missing folder; in development it stays empty
    # because runserver serves static files from the apps.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves the collected static files from the web process, compressed
# and with hashed names in production.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# Production serves only https: browsers are told to keep to it (HSTS) and plain
# http is redirected. Behind a TLS-terminating proxy, set
# DJANGO_SECURE_PROXY_SSL_HEADER=true so that the proxy's X-Forwarded-Proto counts.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Probes call these over plain http from inside the container or the host.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The pages use no inline script or style and load nothing from other origins.
# form-action stays open because saving a token may redirect the form to Jira's
# consent page, on Atlassian or on a Data Center site, and browsers apply
# form-action to that redirect.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
}

# allauth counts failed logins in the cache: per client address and per account
# (the email entered). With several web processes the cache must be shared, which
# Redis is; the deploy check tenants.W001 says so when it is not.
LOGIN_FAILED_RATE_LIMIT = env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/300s/key")
ACCOUNT_RATE_LIMITS = {"login_failed": LOGIN_FAILED_RATE_LIMIT, "login": "30/m/ip"}
# The number of proxies in front of the web processes, so that allauth limits the
# client's address rather than the proxy's.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("ALLAUTH_TRUSTED_PROXY_COUNT", 0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "activities.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Manage Center API",
    "DESCRIPTION": "Run Jira Software activities through a tenant's access tokens.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PATH_CONVERTER_OVERRIDES": {"any_case_uuid": {"type": "string", "format": "uuid"}},
}

# Atlassian's OAuth 2.0 authorization server and API gateway. Development and tests
# point both at the Jira sandbox.
ATLASSIAN_AUTH_URL = env_str("ATLASSIAN_AUTH_URL", "https://auth.atlassian.com")
ATLASSIAN_API_URL = env_str("ATLASSIAN_API_URL", "https://api.atlassian.com")
ATLASSIAN_AUDIENCE = env_str("ATLASSIAN_AUDIENCE", "api.atlassian.com")
JIRA_OAUTH_SCOPES = env_str(
    "JIRA_OAUTH_SCOPES",
    "read:jira-work write:jira-work read:jira-user manage:jira-configuration "
    "offline_access",
).split()
# Jira Data Center scopes are hierarchical (READ < WRITE < ADMIN < SYSTEM_ADMIN);
# WRITE covers every activity but Create Project, which needs ADMIN.
JIRA_DC_OAUTH_SCOPES = env_str("JIRA_DC_OAUTH_SCOPES", "WRITE").split()
# Plain-http portal URLs are refused unless this is on (development against a
# local Jira only).
JIRA_ALLOW_HTTP = env_bool("JIRA_ALLOW_HTTP", False)
# Hosts the outbound guard lets through to any address and over http, as "host" or
# "host:port" (see config/outbound.py). In development they default to the hosts
# that ATLASSIAN_AUTH_URL and ATLASSIAN_API_URL name, which point at the sandbox.
OUTBOUND_ALLOWED_HOSTS = env_list(
    "OUTBOUND_ALLOWED_HOSTS",
    sorted({urlsplit(ATLASSIAN_AUTH_URL).netloc, urlsplit(ATLASSIAN_API_URL).netloc})
    if DEBUG
    else [],
)
JIRA_HTTP_TIMEOUT = env_int("JIRA_HTTP_TIMEOUT", 10, minimum=1)
# The longest Retry-After that a call to Jira waits out before returning the 429 to the caller.
JIRA_MAX_RETRY_WAIT = env_int("JIRA_MAX_RETRY_WAIT", 10, minimum=0)
# The largest attachment upload accepted, in bytes.
JIRA_MAX_ATTACHMENT_BYTES = env_int("JIRA_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024, minimum=1)
# A token is refreshed before use when its access token expires within this margin.
JIRA_TOKEN_REFRESH_MARGIN = env_int("JIRA_TOKEN_REFRESH_MARGIN", 300, minimum=0)
# Consent links older than this are rejected at the callback.
JIRA_CONSENT_MAX_AGE = env_int("JIRA_CONSENT_MAX_AGE", 600, minimum=60)

# LOG_FORMAT=json writes one JSON object per line, for log collectors.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is invalid: use plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.observability.RequestIdFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s "
            "%(token_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
