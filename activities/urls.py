from django.urls import path, re_path

from activities import api
from activities.problems import api_not_found

app_name = "activities"

_issue = "tokens/<uuid:token_id>/issues/<str:issue_key>"

urlpatterns = [
    path("tokens/<uuid:token_id>/issues", api.IssueCreateApi.as_view(), name="issue-create"),
    path(_issue, api.IssueDetailApi.as_view(), name="issue-detail"),
    path(f"{_issue}/assignee", api.AssigneeApi.as_view(), name="issue-assignee"),
    path(f"{_issue}/comments", api.CommentApi.as_view(), name="issue-comments"),
    path(f"{_issue}/attachments", api.AttachmentApi.as_view(), name="issue-attachments"),
    path(f"{_issue}/transitions", api.TransitionApi.as_view(), name="issue-transitions"),
    path("tokens/<uuid:token_id>/projects", api.ProjectCreateApi.as_view(), name="project-create"),
    path(
        "tokens/<uuid:token_id>/capabilities",
        api.CapabilitiesApi.as_view(),
        name="token-capabilities",
    ),
    # Last: any other /api/v1/ URL gets a problem document, not an HTML page.
    re_path(r"^(?P<unmatched>.*)$", api_not_found, name="not-found"),
]
