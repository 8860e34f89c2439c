"""URL map: authorization server, API gateway, DC instances, control API, one host."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

from sandbox import control_views, dc_oauth_views, jira_views, oauth_views
from sandbox.gateway import data_center_not_found, gateway_not_found

urlpatterns = [
    # auth.atlassian.com
    path("authorize", oauth_views.authorize, name="authorize"),
    path("oauth/token", oauth_views.token, name="token"),
    # api.atlassian.com
    path(
        "oauth/token/accessible-resources",
        oauth_views.accessible_resources,
        name="accessible-resources",
    ),
    path("ex/jira/<str:cloud_id>/rest/api/3/", include(jira_views.urlpatterns)),
    re_path(r"^ex/jira/(?P<cloud_id>[^/]+)/", gateway_not_found),
    # Jira Data Center instances, each under its portal URL /dc/<instance>.
    path(
        "dc/<str:instance>/rest/oauth2/latest/authorize",
        dc_oauth_views.authorize,
        name="dc-authorize",
    ),
    path(
        "dc/<str:instance>/rest/oauth2/latest/token",
        dc_oauth_views.token,
        name="dc-token",
    ),
    path("dc/<str:instance>/rest/api/2/", include(jira_views.urlpatterns)),
    path("dc/<str:instance>/rest/api/latest/", include(jira_views.urlpatterns)),
    re_path(r"^dc/(?P<instance>[^/]+)/", data_center_not_found),
    # Control API for tests and demos.
    path("_sandbox/clients", control_views.clients),
    path("_sandbox/sites", control_views.sites),
    path("_sandbox/users", control_views.users),
    path("_sandbox/sites/<str:cloud_id>/projects", control_views.projects),
    path("_sandbox/sites/<str:cloud_id>/issues", control_views.issues),
    path("_sandbox/dc-instances", control_views.dc_instances),
    path("_sandbox/faults", control_views.faults),
    path("_sandbox/requests", control_views.requests_log),
    path("_sandbox/token-requests", control_views.token_requests),
    path("_sandbox/clock", control_views.clock),
    path("_sandbox/reset", control_views.reset),
]


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """Return the gateway's JSON 404 for an unknown path."""
    return JsonResponse({"code": 404, "message": "Not Found"}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    """Return a JSON 500 for an unhandled error (Django logs the traceback)."""
    return JsonResponse({"code": 500, "message": "Internal Server Error"}, status=500)


handler404 = not_found
handler500 = server_error
