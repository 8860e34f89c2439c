"""Writes to tenants, members, applications and API keys, each with its audit event."""

import hashlib
import logging
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from tenants.audit import TenantAction, audit_record
from tenants.models import ApiKey, Application, Membership, Tenant
from tokens.models import AccessToken, AuditEvent

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "mck"


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    application: Application | None = None,
    actor: AbstractBaseUser | None = None,
) -> tuple[ApiKey, str]:
    """Create an API key and return it with its plaintext, which is never stored."""
    if application is not None and application.tenant_id != tenant.pk:
        raise ValueError("The application belongs to another tenant.")
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            tenant=tenant,
            application=application,
            name=name,
            prefix=prefix,
            digest=api_key_digest(key),
        )
        scope = f"application {application.name}" if application else "the tenant"
        audit_record(
            tenant=tenant,
            action=TenantAction.API_KEY_CREATED,
            actor=actor,
            api_key=api_key,
            subject=name,
            detail=f"Key {api_key.prefix} for {scope}",
        )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey, actor: AbstractBaseUser | None = None) -> ApiKey:
    """Revoke the key; revoking it again changes nothing."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if api_key.revoked_at is not None:
            return api_key
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            tenant_id=api_key.tenant_id,
            action=TenantAction.API_KEY_REVOKED,
            actor=actor,
            api_key=api_key,
            subject=api_key.name,
            detail=f"Key {api_key.prefix}",
        )
    return api_key


@transaction.atomic
def tenant_create(*, name: str, administrator: AbstractBaseUser) -> Tenant:
    tenant = Tenant.objects.create(name=name)
    Membership.objects.create(
        tenant=tenant, user=administrator, role=Membership.Role.ADMINISTRATOR
    )
    return tenant


def user_create(*, email: str, password: str | None) -> AbstractBaseUser:
    """Create a user who logs in by email, with allauth's address record.

    Without a password the user cannot log in until they set one through the
    password reset page.
    """
    from allauth.account.models import EmailAddress

    user = get_user_model().objects.create_user(
        username=email, email=email, password=password
    )
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def membership_invite(
    *,
    tenant: Tenant,
    email: str,
    role: str,
    invited_by: AbstractBaseUser,
    login_url: str,
) -> Membership:
    """Add the person with this email to the tenant and tell them by email.

    1. Find the user by email, or create one without a password.
    2. Add the membership; a member already in the tenant raises ValidationError.
    3. After commit, email the login address; a new user sets a password there
       through "Forgot your password?".
    """
    email = email.strip().lower()
    with transaction.atomic():
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            user = user_create(email=email, password=None)
        elif Membership.objects.filter(tenant=tenant, user=user).exists():
            raise ValidationError(
                f"{email} is already a member of {tenant.name}; change their role in "
                "the list instead."
            )
        membership = Membership.objects.create(tenant=tenant, user=user, role=role)
        audit_record(
            tenant=tenant,
            action=TenantAction.MEMBER_INVITED,
            actor=invited_by,
            subject=email,
            detail=f"Role: {membership.get_role_display()}",
        )

    def _send() -> None:
        send_mail(
            subject=f"You have been added to {tenant.name} in the Manage Center",
            message=(
                f"{invited_by.email} added you to {tenant.name} as "
                f"{membership.get_role_display().lower()}.\n\nSign in at {login_url} "
                "with this email address. If you have no password yet, choose "
                '"Forgot your password?" there to set one.\n'
            ),
            from_email=None,
            recipient_list=[email],
        )

    transaction.on_commit(_send)
    return membership


def _administrators_left(membership: Membership) -> int:
    return (
        Membership.objects.filter(
            tenant_id=membership.tenant_id, role=Membership.Role.ADMINISTRATOR
        )
        .exclude(pk=membership.pk)
        .count()
    )


def membership_change_role(
    *, membership: Membership, role: str, actor: AbstractBaseUser | None = None
) -> Membership:
    """Give the member another role; the last administrator keeps theirs."""
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == role:
            return membership
        if membership.is_administrator and not _administrators_left(membership):
            raise ValidationError(
                f"{membership.user.email} is the only administrator of "
                f"{membership.tenant.name}: make another member administrator first."
            )
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            tenant_id=membership.tenant_id,
            action=TenantAction.MEMBER_ROLE_CHANGED,
            actor=actor,
            subject=membership.user.email,
            detail=f"Role: {membership.get_role_display()}",
        )
    return membership


def membership_remove(
    *, membership: Membership, actor: AbstractBaseUser | None = None
) -> None:
    """Remove the member from the tenant; the last administrator stays."""
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.is_administrator and not _administrators_left(membership):
            raise ValidationError(
                f"{membership.user.email} is the only administrator of "
                f"{membership.tenant.name}: make another member administrator first."
            )
        membership.user.designed_applications.remove(
            *membership.tenant.applications.all()
        )
        membership.delete()
        audit_record(
            tenant_id=membership.tenant_id,
            action=TenantAction.MEMBER_REMOVED,
            actor=actor,
            subject=membership.user.email,
        )


def application_create(
    *, tenant: Tenant, name: str, kind: str, actor: AbstractBaseUser | None = None
) -> Application:
    with transaction.atomic():
        application = Application.objects.create(tenant=tenant, name=name, kind=kind)
        audit_record(
            tenant=tenant,
            action=TenantAction.APPLICATION_CREATED,
            actor=actor,
            subject=name,
            detail=application.get_kind_display(),
        )
    return application


def application_rename(
    *, application: Application, name: str, actor: AbstractBaseUser | None = None
) -> Application:
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        old_name = application.name
        application.name = name
        application.save(update_fields=["name"])
        audit_record(
            tenant_id=application.tenant_id,
            action=TenantAction.APPLICATION_RENAMED,
            actor=actor,
            subject=name,
            detail=f"Renamed from {old_name}",
        )
    return application


def application_set_designers(
    *,
    application: Application,
    designers: list[AbstractBaseUser],
    actor: AbstractBaseUser | None = None,
) -> Application:
    """Make exactly these members the application's designers."""
    outside = [
        user.email
        for user in designers
        if not Membership.objects.filter(
            tenant_id=application.tenant_id, user=user
        ).exists()
    ]
    if outside:
        raise ValidationError(
            f"{', '.join(outside)} are not members of this tenant: invite them first."
        )
    with transaction.atomic():
        application.designers.set(designers)
        audit_record(
            tenant_id=application.tenant_id,
            action=TenantAction.APPLICATION_DESIGNERS_CHANGED,
            actor=actor,
            subject=application.name,
            detail="Designers: " + (", ".join(u.email for u in designers) or "none"),
        )
    return application


def application_choose_token(
    *,
    application: Application,
    token: AccessToken | None,
    actor: AbstractBaseUser | None = None,
) -> Application:
    """Make the application run its Jira activities with token, or with none.

    The token must be the application's own or a global token of its tenant.
    """
    if token is not None and not application.may_use_token(token):
        raise ValidationError(
            f"Token {token.name} belongs to another application: choose one of "
            f"{application.name}'s tokens or a global token."
        )
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        application.token = token
        application.save(update_fields=["token"])
        audit_record(
            tenant_id=application.tenant_id,
            action=TenantAction.APPLICATION_TOKEN_CHOSEN,
            actor=actor,
            token=token,
            subject=application.name,
            detail=f"{application.name} uses "
            + (f"token {token.name}" if token else "no token"),
        )
    return application


def application_delete(
    *, application: Application, actor: AbstractBaseUser | None = None
) -> list[str]:
    """Delete the application with its application-level tokens and API keys.

    Return the names of the deleted tokens. Each token gets its own deletion event,
    as if it had been deleted on its own page.
    """
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        tokens = list(application.tokens.order_by("name"))
        for token in tokens:
            audit_record(
                tenant_id=application.tenant_id,
                action=AuditEvent.Action.TOKEN_DELETED,
                actor=actor,
                token=token,
                detail=f"With application {application.name}",
            )
        audit_record(
            tenant_id=application.tenant_id,
            action=TenantAction.APPLICATION_DELETED,
            actor=actor,
            subject=application.name,
            detail="Tokens deleted: " + (", ".join(t.name for t in tokens) or "none"),
        )
        application.delete()
    return [token.name for token in tokens]
