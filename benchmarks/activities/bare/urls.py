from django.http import HttpRequest, JsonResponse
from django.urls import path


def issue(request: HttpRequest, key: str = "DEMO-1") -> JsonResponse:
    return JsonResponse({"id": "10000", "key": key, "self": "http://example.invalid"})


urlpatterns = [
    path("issues", issue),
    path("issues/<str:key>", issue),
]
