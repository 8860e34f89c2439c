from django.http import HttpRequest


def current_tenant(request: HttpRequest) -> dict[str, object]:
    return {"membership": getattr(request, "membership", None)}
