from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config.middleware import is_api_call
from tenants.selectors import membership_for_request


class CurrentTenantMiddleware:
    """Attach the signed-in user's current membership, or None, as `request.membership`.

    It is read eagerly rather than through a lazy proxy, because views test it with
    `is None`, which a proxy around None would never satisfy. API calls get None
    without a lookup, and other requests without a session cost no query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_call(request):
            request.membership = None
        else:
            request.membership = membership_for_request(request)
        return self.get_response(request)
