from typing import TYPE_CHECKING

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.models import ApiKey
from tokens.models import AccessToken
from tokens.selectors import token_get_for_api_key

if TYPE_CHECKING:
    from rest_framework.views import APIView


class HasApiKey(BasePermission):
    """Allow requests by an active API key, to the tokens in the key's scope only.

    A route's token_id is resolved here, before the view parses its body, so a token
    outside the scope gets the 404 of a missing one whatever else the request holds.
    The token found is kept as `request.api_token`, so the view reads it only once.
    """

    def has_permission(self, request: Request, view: "APIView") -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        token_id = view.kwargs.get("token_id")
        if token_id is None:
            return True
        try:
            # token_get_for_api_key audits a denial itself.
            request.api_token = token_get_for_api_key(
                api_key=request.auth, token_id=token_id
            )
        except AccessToken.DoesNotExist:
            raise NotFound(
                f"No access token {token_id} is available to this API key."
            ) from None
        return True
