"""Django settings of the Jira sandbox: no database, all state in memory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

# Signs nothing that outlives the process, so a fresh random key per run is enough.
SECRET_KEY = secrets.token_urlsafe(50)
DEBUG = False
# __main__ adds the --host value through SANDBOX_ALLOWED_HOSTS.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"] + [
    host for host in os.environ.get("SANDBOX_ALLOWED_HOSTS", "").split(",") if host
]

INSTALLED_APPS = ["sandbox"]
MIDDLEWARE = [
    "sandbox.middleware.ContentLengthMiddleware",
    "sandbox.middleware.RequestLogMiddleware",
    "sandbox.openapi.OpenApiValidationMiddleware",
    "sandbox.faults.FaultMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
# Folder with Atlassian's two OpenAPI specs; when set, every Jira REST request is
# validated against them (see sandbox/openapi.py). __main__ sets it from
# --openapi-dir.
SANDBOX_OPENAPI_DIR = os.environ.get("SANDBOX_OPENAPI_DIR", "")
ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = None
DATABASES: dict[str, dict[str, str]] = {}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

USE_TZ = True
TIME_ZONE = "UTC"
APPEND_SLASH = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "loggers": {
        "sandbox": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # Django logs every 4xx as a warning; the request handler already logs them.
        "django": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
