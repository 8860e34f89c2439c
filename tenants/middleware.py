from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from tenants.selectors import membership_for_request


class CurrentTenantMiddleware:
    """Attach the signed-in user's current membership as `request.membership`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = SimpleLazyObject(lambda: membership_for_request(request))
        return self.get_response(request)
