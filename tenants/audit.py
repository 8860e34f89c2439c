"""Audit events for tenant changes and denied access, in the one audit log.

Token events are recorded by tokens.services; this module adds the actions that
concern members, applications and API keys, and denials, to the same table, so that
one page shows everything that happened in a tenant.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models

from tenants.models import ApiKey, Tenant
from tokens.models import AccessToken, AuditEvent


class TenantAction(models.TextChoices):
    MEMBER_INVITED = "member_invited", "Member invited"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member role changed"
    MEMBER_REMOVED = "member_removed", "Member removed"
    APPLICATION_CREATED = "application_created", "Application created"
    APPLICATION_RENAMED = "application_renamed", "Application renamed"
    APPLICATION_DELETED = "application_deleted", "Application deleted"
    APPLICATION_DESIGNERS_CHANGED = "app_designers_changed", "Designers changed"
    APPLICATION_TOKEN_CHOSEN = "app_token_chosen", "Application token chosen"
    API_KEY_CREATED = "api_key_created", "API key created"
    API_KEY_REVOKED = "api_key_revoked", "API key revoked"
    ACCESS_DENIED = "access_denied", "Access denied"
    SECRETS_REENCRYPTED = "secrets_reencrypted", "Secrets re-encrypted"


# NOTE: AuditEvent.action declares only the token actions as choices, so rows with
# these actions are labelled through this mapping instead of get_action_display().
ACTION_LABELS: dict[str, str] = {
    **dict(AuditEvent.Action.choices),
    **dict(TenantAction.choices),
}


def audit_record(
    *,
    tenant: Tenant | None = None,
    tenant_id: object = None,
    action: str,
    actor: AbstractBaseUser | None = None,
    api_key: ApiKey | None = None,
    token: AccessToken | None = None,
    subject: str = "",
    result: str = AuditEvent.Result.SUCCESS,
    detail: str = "",
) -> AuditEvent:
    """Store one audit event; subject names what it concerns when it is no token.

    The caller's transaction, if any, holds the event, so that a change and its
    record commit together.
    """
    return AuditEvent.objects.create(
        tenant_id=tenant.pk if tenant is not None else tenant_id,
        token=token,
        token_name=(token.name if token is not None else subject)[:100],
        actor=actor if actor is not None and actor.is_authenticated else None,
        api_key=api_key,
        action=action,
        result=result,
        detail=detail,
    )


def audit_denial(
    *,
    tenant_id: object,
    detail: str,
    actor: AbstractBaseUser | None = None,
    api_key: ApiKey | None = None,
) -> AuditEvent:
    """Record a refused request in the tenant of the member or key that made it."""
    return audit_record(
        tenant_id=tenant_id,
        action=TenantAction.ACCESS_DENIED,
        actor=actor,
        api_key=api_key,
        result=AuditEvent.Result.DENIED,
        detail=detail,
    )
