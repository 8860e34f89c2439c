from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import observability

urlpatterns = [
    path("healthz", observability.health, name="health"),
    path("readyz", observability.readiness, name="readiness"),
    path("", RedirectView.as_view(pattern_name="tokens:list"), name="home"),
    path("accounts/", include("allauth.urls")),
    path("tenant/", include("tenants.urls")),
    path("tokens/", include("tokens.urls")),
    # The schema and its docs page are public: they describe, and hold no data.
    path(
        "api/v1/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    # Swagger UI's page starts itself with an inline script and inline styles,
    # which the site-wide content security policy forbids everywhere else.
    path(
        "api/v1/docs/",
        csp_update({"script-src": ["'unsafe-inline'"], "style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerView.as_view(
                url_name="api-schema", authentication_classes=[], permission_classes=[]
            )
        ),
        name="api-docs",
    ),
    # After the schema and docs: its last route answers every other /api/v1/ URL.
    path("api/v1/", include("activities.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "activities.problems.api_aware_page_not_found"
handler500 = "activities.problems.api_aware_server_error"
