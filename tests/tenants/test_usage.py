"""Usage counters in Redis, flushed to PostgreSQL in batches."""

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from tenants import usage
from tenants.models import ApiKey
from tenants.services import api_key_create
from tenants.tasks import flush_usage_task
from tests import factories
from tokens.models import AccessToken


@pytest.fixture
def redis_usage():
    """Return the Redis client with no usage left over from other tests."""
    usage._tally.take()
    client = usage._client(settings.REDIS_URL)
    keys = client.keys(f"{usage.PREFIX}:*")
    if keys:
        client.delete(*keys)
    return client


@pytest.mark.django_db
def test_api_calls_write_no_usage_until_flush(tenant, redis_usage, django_assert_max_num_queries):
    # Given an API key and a token the key may use
    api_key, key = api_key_create(tenant=tenant, name="counted")
    token = factories.make_token(tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    url = f"/api/v1/tokens/{token.pk}/issues/DEMO-1"

    # When the service calls the API three times
    for _ in range(3):
        client.get(url)

    # Then the rows are unchanged until the flush task runs
    assert ApiKey.objects.get(pk=api_key.pk).use_count == 0
    assert flush_usage_task() == 2
    api_key.refresh_from_db()
    token = AccessToken.objects.get(pk=token.pk)
    assert api_key.use_count == 3
    assert api_key.last_used_at is not None
    assert token.use_count == 3
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_flush_with_nothing_counted_changes_nothing(redis_usage):
    assert usage.usage_flush() == 0


@pytest.mark.django_db
def test_flush_writes_a_batch_left_by_a_dead_flush(tenant, redis_usage):
    api_key, _ = api_key_create(tenant=tenant, name="left")
    usage.usage_record(api_key=api_key)
    usage.usage_push()
    redis_usage.rename("usage:live:api_key:count", "usage:pending:api_key:count")
    redis_usage.rename("usage:live:api_key:last", "usage:pending:api_key:last")
    usage.usage_record(api_key=api_key)

    usage.usage_flush()
    usage.usage_flush()

    assert ApiKey.objects.get(pk=api_key.pk).use_count == 2


@pytest.mark.django_db
def test_uses_reach_redis_in_one_push_per_interval(tenant, redis_usage):
    # Given a key whose uses were last pushed just now
    api_key, _ = api_key_create(tenant=tenant, name="tallied")
    usage.usage_push()
    count_key, _ = usage._keys("api_key", "live")

    # When it is used five times within the interval
    for _ in range(5):
        usage.usage_record(api_key=api_key)

    # Then Redis has none of them yet, and one push sends all five
    assert redis_usage.hget(count_key, str(api_key.pk)) is None
    usage.usage_push()
    assert redis_usage.hget(count_key, str(api_key.pk)) == b"5"


@pytest.mark.django_db
def test_uses_are_kept_while_redis_is_down(tenant, redis_usage, monkeypatch, tmp_path):
    # Given a tally that cannot reach Redis
    api_key, _ = api_key_create(tenant=tenant, name="kept")
    usage.usage_record(api_key=api_key)
    usage.usage_record(api_key=api_key)
    unreachable = redis.Redis(unix_socket_path=str(tmp_path / "absent.sock"))
    monkeypatch.setattr(usage, "_client", lambda url: unreachable)
    usage.usage_push()

    # When Redis is reachable again and the flush runs
    monkeypatch.undo()
    usage.usage_record(api_key=api_key)
    usage.usage_flush()

    # Then no use was lost
    assert ApiKey.objects.get(pk=api_key.pk).use_count == 3
