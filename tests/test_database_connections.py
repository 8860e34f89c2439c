"""Persistent database connections without health checks, when the server drops one."""

import json
import uuid

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
