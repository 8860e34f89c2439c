from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView


class HasApiKey(BasePermission):
    """Allow requests authenticated by an active API key."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        return isinstance(request.auth, ApiKey)
