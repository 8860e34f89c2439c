from typing import TYPE_CHECKING

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.audit import audit_denial
from tenants.models import ApiKey
from tenants.usage import usage_record

if TYPE_CHECKING:
    from rest_framework.views import APIView


class HasApiKey(BasePermission):
    """Allow requests by an active API key, to the tokens in the key's scope only.

    A route's token_id is resolved here, before the view parses its body, so a token
    outside the scope gets the 404 of a missing one whatever else the request holds.
    ApiKeyAuthentication read the token with the key; it is kept as
    `request.api_token` for the view.
    """

    def has_permission(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        token_id = view.kwargs.get("token_id")
        if token_id is None:
            return True

        token = api_key.requested_token
        if token is None:
            audit_denial(
                tenant_id=api_key.tenant_id,
                api_key=api_key,
                detail=f"API key {api_key.prefix} asked for token {token_id}, which it "
                "may not use or which does not exist.",
            )
            raise NotFound(f"No access token {token_id} is available to this API key.")

        usage_record(token=token)
        request.api_token = token
        return True
