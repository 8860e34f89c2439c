import logging

from celery import shared_task

from tenants.usage import usage_flush

logger = logging.getLogger(__name__)


@shared_task
def flush_usage_task() -> int:
    """Write the uses of API keys and tokens counted in Redis to their rows."""
    changed = usage_flush()
    if changed:
        logger.info("Usage flush updated %s rows", changed)
    return changed
