"""Persistent database connections: a dropped one, and the statements they prepare."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory

from tenants.services import api_key_create


def _call(handler: WSGIHandler, url: str, key: str) -> tuple[int, dict]:
    """Run one request through the whole request cycle, signals included."""
    environ = RequestFactory().get(url, HTTP_AUTHORIZATION=f"Api-Key {key}").environ
    statuses = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    response = handler(environ, start_response)
    body = b"".join(response)
    response.close()
    return int(statuses[0].split()[0]), json.loads(body)


@pytest.mark.django_db(transaction=True)
def test_dropped_connection_fails_one_call(
    tenant, monkeypatch
):
    # Given a kept connection that an API call has used
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    _, key = api_key_create(tenant=tenant, name="service")
    handler = WSGIHandler()
    url = f"/api/v1/tokens/{uuid.uuid4()}/issues/DEMO-1"
    assert _call(handler, url, key)[0] == 404
    backend_pid = connection.connection.info.backend_pid

    # When the server ends that connection, as a restart or failover does
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"),
        dbname=params["dbname"], autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])

    # Then the next call fails with a problem response, and the one after it works
    failed_status, failed_body = _call(handler, url, key)
    assert failed_status == 500
    assert failed_body["status"] == 500
    assert _call(handler, url, key)[0] == 404
    assert connection.connection.info.backend_pid != backend_pid


@pytest.mark.django_db(transaction=True)
def test_key_lookup_prepared_after_threshold(tenant, monkeypatch):
    # Given a kept connection
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    _, key = api_key_create(tenant=tenant, name="service")
    handler = WSGIHandler()
    url = f"/api/v1/tokens/{uuid.uuid4()}/issues/DEMO-1"

    # When more API calls than the prepare threshold run on it
    for _ in range(connection.settings_dict["OPTIONS"]["prepare_threshold"] + 1):
        assert _call(handler, url, key)[0] == 404

    # Then the key lookup is a prepared statement of that connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert any('k."prefix" = $' in statement for statement in statements), statements


def _database_options(value: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_PREPARED_STATEMENTS", None)
    if value is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = value
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; "
         "print(sorted(settings.DATABASES['default'].get('OPTIONS', {}).items()))"],
        cwd=Path(__file__).resolve().parents[1], env=env,
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("value", "prepared"), [(None, True), ("true", True), ("false", False)]
)
def test_prepared_statements_setting(value, prepared):
    result = _database_options(value)

    assert result.returncode == 0, result.stderr
    assert ("('prepare_threshold', 5)" in result.stdout) is prepared
    assert ("('server_side_binding', True)" in result.stdout) is prepared


def test_prepared_statements_rejects_non_boolean():
    result = _database_options("sometimes")

    assert result.returncode != 0
    assert "DATABASE_PREPARED_STATEMENTS='sometimes' is not a boolean" in result.stderr
