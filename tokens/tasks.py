import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from tokens import services
from tokens.models import AccessToken
from tokens.selectors import tokens_due_for_renewal

logger = logging.getLogger(__name__)

# A claimed token is not picked again by the sweep for this long, which gives its
# queued renewal time to run.
CLAIM_SECONDS = 300


@shared_task
def renew_due_tokens_task() -> int:
    """Queue one renewal for every token whose next renewal time has come."""
    now = timezone.now()
    token_ids = list(tokens_due_for_renewal(now=now).values_list("pk", flat=True)[:1000])

    queued = 0
    for token_id in token_ids:
        # Zero rows updated means another sweep claimed the token first.
        claimed = AccessToken.objects.filter(
            pk=token_id, next_renewal_at__lte=now
        ).update(next_renewal_at=now + timedelta(seconds=CLAIM_SECONDS))
        if claimed:
            renew_token_task.delay(str(token_id))
            queued += 1
    logger.info("Renewal sweep queued %s of %s due tokens", queued, len(token_ids))
    return queued


@shared_task
def renew_token_task(token_id: str) -> None:
    try:
        services.token_renew(token_id=token_id)
    except services.RenewalError:
        # token_renew has stored the status and last error and logged them.
        pass
