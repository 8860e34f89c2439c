from django.urls import path

from tokens import views

app_name = "tokens"

urlpatterns = [
    path("", views.token_list, name="list"),
    path("new/", views.token_create, name="create"),
    path("oauth/callback/", views.oauth_callback, name="callback"),
    path("<uuid:token_id>/", views.token_edit, name="edit"),
    path("<uuid:token_id>/connect/", views.token_connect, name="connect"),
    path("<uuid:token_id>/delete/", views.token_delete, name="delete"),
    path("<uuid:token_id>/renew/", views.token_renew_now, name="renew"),
    path(
        "<uuid:token_id>/capabilities/",
        views.token_capabilities_page,
        name="capabilities",
    ),
    path(
        "<uuid:token_id>/renewal/", views.token_renewal_progress, name="renewal_progress"
    ),
]
