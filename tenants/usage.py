"""Counts of API key and token uses, kept in Redis, written to the database in batches.

An activity call adds one to a tally in its own process. The tally goes to Redis
hashes at most once a second, in one round trip, and a beat task moves the counts
from Redis into ApiKey and AccessToken every 30 seconds. So counting costs an API
call neither a database write nor a Redis round trip. A process killed without
warning loses the uses of its last second; a normal exit pushes them.
Without REDIS_URL (a laptop) each use updates the rows at once.
"""

import atexit
import functools
import logging
import threading
import time
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
PUSH_INTERVAL_SECONDS = 1.0


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis() -> redis.Redis | None:
    return _client(settings.REDIS_URL) if settings.REDIS_URL else None


def _keys(kind: str, state: str) -> tuple[str, str]:
    return f"{PREFIX}:{state}:{kind}:count", f"{PREFIX}:{state}:{kind}:last"


class _Tally:
    """Uses counted by this process and not yet in Redis, shared by its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[tuple[str, str], tuple[int, float]] = {}
        self._pushed_at = time.monotonic()

    def add(self, uses: list[tuple[str, str]], at: float) -> bool:
        """Count the uses; return True when the tally is due to go to Redis."""
        with self._lock:
            for use in uses:
                count, last = self._uses.get(use, (0, 0.0))
                self._uses[use] = (count + 1, max(last, at))
            return time.monotonic() - self._pushed_at >= PUSH_INTERVAL_SECONDS

    def take(self) -> dict[tuple[str, str], tuple[int, float]]:
        """Return the counted uses and start a new tally."""
        with self._lock:
            batch, self._uses = self._uses, {}
            self._pushed_at = time.monotonic()
            return batch

    def give_back(self, uses: dict[tuple[str, str], tuple[int, float]]) -> None:
        """Add a batch that could not be pushed back into the tally."""
        with self._lock:
            for use, (count, last) in uses.items():
                pending, pending_last = self._uses.get(use, (0, 0.0))
                self._uses[use] = (pending + count, max(pending_last, last))


_tally = _Tally()


def usage_record(
    *,
    api_key: ApiKey | None = None,
    token: AccessToken | None = None,
    now: datetime | None = None,
) -> None:
    """Count one use of the API key and of the token, whichever are given."""
    now = now or timezone.now()
    uses = [("api_key", str(api_key.pk))] if api_key else []
    uses += [("token", str(token.pk))] if token else []
    if _redis() is None:
        for kind, pk in uses:
            _apply(kind, {pk: (1, now.timestamp())})
        return
    if _tally.add(uses, now.timestamp()):
        usage_push()


def usage_push() -> None:
    """Send this process's tally to Redis in one round trip.

    A Redis failure is logged and the tally kept for the next push, because
    counting must never fail the call it counts.
    """
    client = _redis()
    uses = _tally.take()
    if client is None or not uses:
        return
    pipe = client.pipeline(transaction=False)
    for (kind, pk), (count, last) in uses.items():
        count_key, last_key = _keys(kind, "live")
        pipe.hincrby(count_key, pk, count)
        pipe.hset(last_key, pk, repr(last))
    try:
        pipe.execute()
    except redis.RedisError:
        logger.warning(
            "Pushing usage counts to Redis failed; %d counts kept for the next push",
            len(uses), exc_info=True,
        )
        _tally.give_back(uses)


atexit.register(usage_push)


def usage_flush() -> int:
    """Write the counted uses to the database and return how many rows changed.

    This process's own tally goes to Redis first. The live hashes are renamed before
    they are read, so uses counted meanwhile go to new hashes. Hashes left by a flush
    that died are written first.
    """
    client = _redis()
    if client is None:
        return 0
    usage_push()
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
