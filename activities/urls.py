from django.urls import path

from activities import api

app_name = "activities"

urlpatterns = [
    path("tokens/<uuid:token_id>/issues", api.IssueCreateApi.as_view(), name="issue-create"),
    path(
        "tokens/<uuid:token_id>/issues/<str:issue_key>",
        api.IssueDetailApi.as_view(),
        name="issue-detail",
    ),
]
