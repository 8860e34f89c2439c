from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tenants.models import ApiKey
from tenants.services import API_KEY_PREFIX, api_key_digest


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate services by `Authorization: Api-Key <key>`.

    On success `request.user` is None and `request.auth` is the ApiKey row, which
    carries the tenant.
    """

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(
            "latin-1", errors="replace"
        )
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword:
            return None

        key = key.strip()
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
            raise exceptions.AuthenticationFailed("The API key is malformed.")

        api_key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1]).first()
        if api_key is None or not constant_time_compare(
            api_key.digest, api_key_digest(key)
        ):
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("The API key has been revoked.")

        # TODO: record last use without a write per call (batch it) once the
        # usage counters exist; until then one UPDATE per call is accepted.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
