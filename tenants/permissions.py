from typing import TYPE_CHECKING

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.audit import audit_denial
from tenants.models import ApiKey
from tokens.selectors import tokens_for_api_key

if TYPE_CHECKING:
    from rest_framework.views import APIView


class HasApiKey(BasePermission):
    """Allow requests by an active API key, to the tokens in the key's scope only.

    A route's token_id is checked here, before the view parses its body, so a token
    outside the scope gets the 404 of a missing one whatever else the request holds.
    """

    def has_permission(self, request: Request, view: "APIView") -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        token_id = view.kwargs.get("token_id")
        if token_id is None or tokens_for_api_key(request.auth).filter(pk=token_id).exists():
            return True

        audit_denial(
            tenant_id=request.auth.tenant_id,
            api_key=request.auth,
            detail=f"API key {request.auth.prefix} asked for token {token_id}, which it "
            "may not use or which does not exist.",
        )
        raise NotFound(f"No access token {token_id} is available to this API key.")
