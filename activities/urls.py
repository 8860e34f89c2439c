import uuid

from django.urls import path, re_path, register_converter

from activities import api
from activities.problems import api_not_found

app_name = "activities"


class AnyCaseUUIDConverter:
    """A UUID in either letter case.

    Django's own uuid converter matches lower case only, so an upper-case token id,
    the same UUID, got the 404 of an unknown endpoint.
    """

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: uuid.UUID | str) -> str:
        return str(value)


register_converter(AnyCaseUUIDConverter, "any_case_uuid")

_issue = "tokens/<any_case_uuid:token_id>/issues/<str:issue_key>"

urlpatterns = [
    path(
        "tokens/<any_case_uuid:token_id>/issues",
        api.IssueCreateApi.as_view(),
        name="issue-create",
    ),
    path(_issue, api.IssueDetailApi.as_view(), name="issue-detail"),
    path(f"{_issue}/assignee", api.AssigneeApi.as_view(), name="issue-assignee"),
    path(f"{_issue}/comments", api.CommentApi.as_view(), name="issue-comments"),
    path(f"{_issue}/attachments", api.AttachmentApi.as_view(), name="issue-attachments"),
    path(f"{_issue}/transitions", api.TransitionApi.as_view(), name="issue-transitions"),
    path(
        "tokens/<any_case_uuid:token_id>/projects",
        api.ProjectCreateApi.as_view(),
        name="project-create",
    ),
    path(
        "tokens/<any_case_uuid:token_id>/capabilities",
        api.CapabilitiesApi.as_view(),
        name="token-capabilities",
    ),
    # Last: any other /api/v1/ URL gets a problem document, not an HTML page.
    re_path(r"^(?P<unmatched>.*)$", api_not_found, name="not-found"),
]
