"""System checks for production settings that Django's own --deploy checks miss."""

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

SHARED_CACHES = (
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.db.DatabaseCache",
)


@register(Tags.security, deploy=True)
def check_shared_cache(**kwargs: object) -> list[CheckMessage]:
    """Warn when login rate limits and usage counters live in one process only."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend in SHARED_CACHES:
        return []
    return [
        Warning(
            f"The default cache is {backend}, which each web process keeps to itself, "
            "so failed logins are counted per process.",
            hint="Set REDIS_URL so that every process shares one cache.",
            id="tenants.W001",
        )
    ]


@register(Tags.security, deploy=True)
def check_outbound_guard(**kwargs: object) -> list[CheckMessage]:
    """Warn when the outbound guard lets named hosts reach any address in production."""
    if not settings.OUTBOUND_ALLOWED_HOSTS:
        return []
    hosts = ", ".join(settings.OUTBOUND_ALLOWED_HOSTS)
    return [
        Warning(
            f"OUTBOUND_ALLOWED_HOSTS lets {hosts} through the outbound guard, to any "
            "address and over plain http.",
            hint="Leave OUTBOUND_ALLOWED_HOSTS empty outside development.",
            id="tenants.W002",
        )
    ]
