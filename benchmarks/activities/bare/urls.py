import os

import urllib3
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

# The relay does the least that any product must do per call. It sends one request
# to Jira through a pooled connection, with no database, API key, token or DRF.
JIRA_API = os.environ.get("BENCH_JIRA_API", "")
JIRA_HEADERS = {
    "Authorization": f"Bearer {os.environ.get('BENCH_JIRA_BEARER', '')}",
    "Accept": "application/json",
    "Content-Type": "application/json",
}
# One retry, which urllib3 spends on a read only for idempotent methods, covers a
# kept-alive connection that the sandbox closes just as the pool reuses it.
jira_pool = urllib3.PoolManager(maxsize=16, retries=urllib3.Retry(total=1, redirect=0))


def issue(request: HttpRequest, key: str = "DEMO-1") -> JsonResponse:
    return JsonResponse({"id": "10000", "key": key, "self": "http://example.invalid"})


def relay(request: HttpRequest, key: str = "") -> HttpResponse:
    url = f"{JIRA_API}/issue/{key}" if key else f"{JIRA_API}/issue"
    body = request.body if request.method == "POST" else None
    jira_response = jira_pool.request(request.method, url, body=body, headers=JIRA_HEADERS)
    return HttpResponse(
        jira_response.data, status=jira_response.status, content_type="application/json"
    )


urlpatterns = [
    path("issues", issue),
    path("issues/<str:key>", issue),
    path("relay/issues", relay),
    path("relay/issues/<str:key>", relay),
]
