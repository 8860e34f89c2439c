from datetime import datetime

from django.db.models import QuerySet

from tenants.models import ApiKey
from tokens.models import AccessToken, RenewalRate, TokenStatus


def tokens_due_for_renewal(*, now: datetime) -> QuerySet[AccessToken]:
    return AccessToken.objects.filter(
        next_renewal_at__lte=now,
        status__in=[TokenStatus.CONNECTED, TokenStatus.RENEWAL_FAILING],
    ).exclude(renewal_rate=RenewalRate.DISABLED)


def token_get_for_api_key(*, api_key: ApiKey, token_id: object) -> AccessToken:
    """Return a token the API key's tenant owns, read fresh from the database.

    Raises AccessToken.DoesNotExist for another tenant's id, as for a missing one.
    """
    return AccessToken.objects.get(pk=token_id, tenant_id=api_key.tenant_id)
