from datetime import datetime

from django.db.models import Q, QuerySet

from tenants.models import ApiKey
from tokens.models import AccessToken, RenewalRate, TokenStatus


def tokens_due_for_renewal(*, now: datetime) -> QuerySet[AccessToken]:
    """Return the tokens whose next renewal time has come, most overdue first.

    The filter repeats the condition of the partial index token_renewal_due_idx
    word for word, which is what lets PostgreSQL read only the due rows.
    """
    return AccessToken.objects.filter(
        next_renewal_at__lte=now,
        status__in=[TokenStatus.CONNECTED, TokenStatus.RENEWAL_FAILING],
        renewal_rate__gt=RenewalRate.DISABLED,
    ).order_by("next_renewal_at")


def tokens_for_api_key(api_key: ApiKey) -> QuerySet[AccessToken]:
    """Return the tokens the key may use.

    Every key may use its tenant's global tokens; a key of an application may also
    use that application's tokens.
    """
    scope = Q(application__isnull=True)
    if api_key.application_id is not None:
        scope |= Q(application_id=api_key.application_id)
    return AccessToken.objects.filter(scope, tenant_id=api_key.tenant_id)


def token_get_for_api_key(*, api_key: ApiKey, token_id: object) -> AccessToken:
    """Return a token the API key may use, read fresh from the database.

    Raises AccessToken.DoesNotExist for an id outside the key's scope, as for a
    missing one, and records the denial in the key's tenant. A found token counts
    one use (tenants.usage, without a database write).
    """
    from tenants.audit import audit_denial
    from tenants.usage import usage_record

    try:
        token = tokens_for_api_key(api_key).get(pk=token_id)
    except AccessToken.DoesNotExist:
        audit_denial(
            tenant_id=api_key.tenant_id,
            api_key=api_key,
            detail=f"API key {api_key.prefix} asked for token {token_id}, which it "
            "may not use or which does not exist.",
        )
        raise
    usage_record(token=token)
    return token


def token_secret_problems(token: AccessToken) -> list[str]:
    """Return why each stored secret of the token cannot be decrypted, if any.

    A token in this state still lists and deletes; its secrets stay as stored until
    the missing key is configured again or an administrator enters new ones.
    """
    from tokens.encryption import DecryptionError

    problems = []
    for field in AccessToken.SECRET_FIELDS:
        try:
            token.get_secret(field)
        except DecryptionError as exc:
            label = field.replace("_", " ").capitalize()
            problems.append(f"{label} cannot be decrypted: {exc}")
    return problems
