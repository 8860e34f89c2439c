from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="tokens:list"), name="home"),
    path("accounts/", include("allauth.urls")),
    path("tokens/", include("tokens.urls")),
    path("api/v1/", include("activities.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("admin/", admin.site.urls),
]
