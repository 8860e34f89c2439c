"""Counts of API key and token uses, kept in Redis and written to the database in batches.

An activity call adds one to a Redis hash instead of updating its rows, and a beat
task moves the counts into ApiKey and AccessToken every 30 seconds. Without
REDIS_URL (a laptop) each use updates the rows at once.
"""

import functools
import logging
from datetime import datetime

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from tenants.models import ApiKey
from tokens.models import AccessToken

logger = logging.getLogger(__name__)

PREFIX = "usage"
MODELS = {"api_key": ApiKey, "token": AccessToken}


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis() -> redis.Redis | None:
    return _client(settings.REDIS_URL) if settings.REDIS_URL else None


def _keys(kind: str, state: str) -> tuple[str, str]:
    return f"{PREFIX}:{state}:{kind}:count", f"{PREFIX}:{state}:{kind}:last"


def usage_record(
    *,
    api_key: ApiKey | None = None,
    token: AccessToken | None = None,
    now: datetime | None = None,
) -> None:
    """Count one use of the API key and of the token, whichever are given.

    A Redis failure is logged and the use goes uncounted, because counting must
    never fail the call it counts.
    """
    now = now or timezone.now()
    uses = [("api_key", api_key.pk)] if api_key else []
    uses += [("token", token.pk)] if token else []
    client = _redis()
    if client is None:
        for kind, pk in uses:
            _apply(kind, {str(pk): (1, now.timestamp())})
        return

    pipe = client.pipeline(transaction=False)
    for kind, pk in uses:
        count_key, last_key = _keys(kind, "live")
        pipe.hincrby(count_key, str(pk), 1)
        pipe.hset(last_key, str(pk), repr(now.timestamp()))
    try:
        pipe.execute()
    except redis.RedisError:
        logger.warning("Uses of %s were not counted", uses, exc_info=True)


def usage_flush() -> int:
    """Write the counted uses to the database and return how many rows changed.

    The live hashes are renamed before they are read, so uses counted meanwhile go
    to new hashes. Hashes left by a flush that died are written first.
    """
    client = _redis()
    if client is None:
        return 0
    changed = 0
    for kind in MODELS:
        live = _keys(kind, "live")
        pending = _keys(kind, "pending")
        if not client.exists(pending[0]):
            pipe = client.pipeline(transaction=True)
            for source, target in zip(live, pending):
                pipe.renamenx(source, target)
            try:
                pipe.execute()
            except redis.ResponseError:
                # No use was counted since the last flush: there is nothing to move.
                continue

        counts = client.hgetall(pending[0])
        lasts = client.hgetall(pending[1])
        uses = {
            pk.decode(): (int(count), float(lasts.get(pk, b"0")))
            for pk, count in counts.items()
        }
        # NOTE: a flush that dies between these two lines counts its batch again on
        # the next run; counts may run high by one batch, never low.
        changed += _apply(kind, uses)
        client.delete(*pending)
    return changed


def _apply(kind: str, uses: dict[str, tuple[int, float]]) -> int:
    model = MODELS[kind]
    changed = 0
    with transaction.atomic():
        for pk, (count, last) in sorted(uses.items()):
            last_used = datetime.fromtimestamp(last, tz=timezone.get_current_timezone())
            changed += model.objects.filter(pk=pk).update(
                use_count=F("use_count") + count,
                last_used_at=Greatest(
                    Coalesce(F("last_used_at"), Value(last_used)), Value(last_used)
                ),
            )
    return changed
