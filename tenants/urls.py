from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("", views.tenant_overview, name="overview"),
    path("switch/", views.tenant_switch, name="switch"),
    path("members/", views.member_list, name="members"),
    path("members/<int:membership_id>/", views.member_update, name="member"),
    path("applications/", views.application_list, name="applications"),
    path(
        "applications/<uuid:application_id>/",
        views.application_detail,
        name="application",
    ),
    path(
        "applications/<uuid:application_id>/rename/",
        views.application_rename,
        name="application-rename",
    ),
    path(
        "applications/<uuid:application_id>/designers/",
        views.application_designers,
        name="application-designers",
    ),
    path(
        "applications/<uuid:application_id>/token/",
        views.application_token,
        name="application-token",
    ),
    path(
        "applications/<uuid:application_id>/delete/",
        views.application_delete,
        name="application-delete",
    ),
    path("api-keys/", views.api_key_list, name="api_keys"),
    path("api-keys/<uuid:api_key_id>/revoke/", views.api_key_revoke, name="api_key-revoke"),
    path("audit/", views.audit_log, name="audit"),
]
