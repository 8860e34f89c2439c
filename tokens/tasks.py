"""Celery tasks for token renewal: thin edges around tokens.services."""

import logging
import time

from celery import current_app, shared_task
from django.utils import timezone

from tokens import services
from tokens.models import AccessToken

logger = logging.getLogger(__name__)


@shared_task
def renew_due_tokens_task() -> int:
    """Queue one renewal for every token whose next renewal time has come."""
    started = time.monotonic()
    queued = services.token_renewals_queue_due(now=timezone.now())
    logger.info(
        "Renewal sweep queued %s tokens in %.0f ms",
        queued,
        (time.monotonic() - started) * 1000,
    )
    return queued


@shared_task
def renew_token_task(token_id: str) -> None:
    """Renew one queued token, unless another renewer already did."""
    try:
        services.token_renew(token_id=token_id, only_if_queued=True)
    except services.RenewalBusyError:
        # The renewer holding the lease stores the answer and clears the queue mark.
        pass
    except services.RenewalError:
        # token_renew stored the status, the retry time and the audit event.
        pass
    except AccessToken.DoesNotExist:
        logger.info("Renewal skipped for a deleted token %s", token_id)


def enqueue_renewals(token_ids: list[str]) -> None:
    """Send one renewal message per token id over a single broker connection."""
    with current_app.producer_or_acquire() as producer:
        for token_id in token_ids:
            renew_token_task.apply_async(args=[token_id], producer=producer)
