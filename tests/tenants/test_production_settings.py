"""Production settings pass Django's deploy checks; failed logins are limited."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests import factories

ROOT = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "FIELD_ENCRYPTION_KEYS": "p1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DJANGO_ALLOWED_HOSTS": "manage.example.com",
        "OUTBOUND_ALLOWED_HOSTS": "",
    }
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    # Browser tests set this for Playwright; a deployment never has it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_failed_logins_are_rate_limited(client, owner):
    cache.clear()
    url = reverse("account_login")

    for _ in range(5):
        client.post(url, {"login": owner.email, "password": "wrong"})

    response = client.post(url, {"login": owner.email, "password": factories.PASSWORD})

    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
