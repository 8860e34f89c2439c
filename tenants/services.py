import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from tenants.models import ApiKey, Membership, Tenant

API_KEY_PREFIX = "mck"


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(*, tenant: Tenant, name: str) -> tuple[ApiKey, str]:
    """Create an API key and return it with its plaintext, which is never stored."""
    prefix = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        tenant=tenant, name=name, prefix=prefix, digest=api_key_digest(key)
    )
    return api_key, key


@transaction.atomic
def tenant_create(*, name: str, administrator: AbstractBaseUser) -> Tenant:
    tenant = Tenant.objects.create(name=name)
    Membership.objects.create(
        tenant=tenant, user=administrator, role=Membership.Role.ADMINISTRATOR
    )
    return tenant


def user_create(*, email: str, password: str) -> AbstractBaseUser:
    """Create a user who logs in by email, with allauth's address record."""
    from allauth.account.models import EmailAddress

    user = get_user_model().objects.create_user(
        username=email, email=email, password=password
    )
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user
