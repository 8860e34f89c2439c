from django.utils.crypto import constant_time_compare
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tenants.audit import audit_denial
from tenants.models import ApiKey
from tenants.services import API_KEY_PREFIX, api_key_digest
from tenants.usage import usage_record
from tokens.selectors import api_key_get_for_call


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate services by `Authorization: Api-Key <key>`.

    On success `request.user` is None and `request.auth` is the ApiKey row, which
    carries the tenant id and, as `requested_token`, the route's token when the key
    may use it.
    """

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(
            "latin-1", errors="replace"
        )
        scheme, _, key = header.partition(" ")
        # HTTP authentication schemes are case-insensitive (RFC 9110, section 11.1).
        if scheme.lower() != self.keyword.lower():
            return None

        key = key.strip()
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
            raise exceptions.AuthenticationFailed("The API key is malformed.")

        # The route's token comes with the key, in the same query; HasApiKey checks it.
        route_kwargs = (request.parser_context or {}).get("kwargs", {})
        api_key = api_key_get_for_call(
            prefix=parts[1], token_id=route_kwargs.get("token_id")
        )
        if api_key is None or not constant_time_compare(
            api_key.digest, api_key_digest(key)
        ):
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        if not api_key.is_active:
            audit_denial(
                tenant_id=api_key.tenant_id,
                api_key=api_key,
                detail=f"Revoked API key {api_key.prefix} was used.",
            )
            raise exceptions.AuthenticationFailed("The API key has been revoked.")

        usage_record(api_key=api_key)
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
