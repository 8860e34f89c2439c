"""REST API views: parse the request, run one activity, shape the answer."""

from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activities import jira
from activities.capabilities import token_capabilities
from activities.serializers import (
    ISSUE_KEY_OR_ID,
    AssigneeSerializer,
    CapabilitiesQuerySerializer,
    CommentSerializer,
    DeleteIssueQuerySerializer,
    IssueCreatedSerializer,
    IssueCreateSerializer,
    IssueQuerySerializer,
    IssueUpdateSerializer,
    ProblemSerializer,
    ProjectCreateSerializer,
    TransitionSerializer,
)
from activities.services import issue_transition, jira_site_for
from tokens.models import AccessToken
from tokens.services import token_prepare_for_use

_PROBLEM_STATUSES = {
    400: "Invalid input, or Jira rejected the values",
    401: "Missing, malformed, unknown or revoked API key",
    403: "Jira refused: the token's user lacks a permission",
    404: "No such token for this API key, or Jira's not found or not visible",
    409: "The token is not connected or needs a new consent",
    413: "Jira refused the size",
    422: "Jira reported a configuration problem",
    429: "Jira is throttling; wait for Retry-After",
    502: "Jira failed or rejected the token",
    504: "Jira did not respond in time",
}
PROBLEM_RESPONSES = {
    (code, "application/problem+json"): OpenApiResponse(ProblemSerializer, description=text)
    for code, text in _PROBLEM_STATUSES.items()
}

ISSUE_KEY_PARAMETER = OpenApiParameter(
    "issue_key", str, OpenApiParameter.PATH, description="Issue key (DEMO-12) or id."
)


def _usable_token(request: Request) -> AccessToken:
    """Return the route's token, found in the key's scope by HasApiKey, ready for use."""
    return token_prepare_for_use(token=request.api_token)


def _jira_site(request: Request, token_id: UUID) -> jira.JiraSite:
    """Return the Jira site of a token the caller may use, ready for a call."""
    return jira_site_for(_usable_token(request))


def _issue_key(issue_key: str) -> str:
    # The validator alone, because a serializer per call costs more than the check.
    try:
        ISSUE_KEY_OR_ID(issue_key)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"issue_key": exc.messages}) from None
    return issue_key


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


class IssueCreateApi(APIView):
    @extend_schema(
        operation_id="create_issue",
        summary="Create Issue",
        description="Needs the Browse Projects and Create Issues permissions.",
        request=IssueCreateSerializer,
        responses={201: IssueCreatedSerializer, **PROBLEM_RESPONSES},
        examples=[
            OpenApiExample(
                "A task",
                value={
                    "project": "DEMO",
                    "issue_type": "Task",
                    "summary": "Printer on floor 3 is jammed",
                    "description": "Reported by the front desk.\n\nPaper tray 2.",
                    "labels": ["office"],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, token_id: UUID) -> Response:
        serializer = _validated(IssueCreateSerializer, request.data)

        site = _jira_site(request, token_id)
        created = jira.create_issue(site, fields=serializer.to_jira_fields(site))
        return Response(created, status=status.HTTP_201_CREATED)


class IssueDetailApi(APIView):
    @extend_schema(
        operation_id="get_issue_details",
        summary="Get Issue Details",
        description="Return Jira's issue. Needs the Browse Projects permission.",
        parameters=[ISSUE_KEY_PARAMETER, IssueQuerySerializer],
        responses={200: dict, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _issue_key(issue_key)
        query = {}
        if request.query_params:
            serializer = _validated(IssueQuerySerializer, request.query_params)
            query = serializer.validated_data

        site = _jira_site(request, token_id)
        issue = jira.get_issue(
            site, issue_key, fields=query.get("fields"), expand=query.get("expand")
        )
        return Response(issue)

    @extend_schema(
        operation_id="update_issue",
        summary="Update Issue",
        description="Needs the Browse Projects and Edit Issues permissions.",
        parameters=[ISSUE_KEY_PARAMETER],
        request=IssueUpdateSerializer,
        responses={204: None, **PROBLEM_RESPONSES},
        examples=[
            OpenApiExample(
                "New summary and labels",
                value={"summary": "Printer fixed", "labels": ["office", "done"]},
                request_only=True,
            )
        ],
    )
    def put(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _issue_key(issue_key)
        serializer = _validated(IssueUpdateSerializer, request.data)

        site = _jira_site(request, token_id)
        jira.update_issue(
            site,
            issue_key,
            fields=serializer.to_jira_fields(site),
            notify_users=serializer.validated_data["notify_users"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="delete_issue",
        summary="Delete Issue",
        description="Needs the Browse Projects and Delete Issues permissions.",
        parameters=[ISSUE_KEY_PARAMETER, DeleteIssueQuerySerializer],
        responses={204: None, **PROBLEM_RESPONSES},
    )
    def delete(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _issue_key(issue_key)
        query = _validated(DeleteIssueQuerySerializer, request.query_params)

        site = _jira_site(request, token_id)
        try:
            jira.delete_issue(
                site, issue_key, delete_subtasks=query.validated_data["delete_subtasks"]
            )
        except jira.JiraError as exc:
            # Jira names its own query parameter, deleteSubtasks.
            if exc.status == 400 and "deleteSubtasks" in str(exc):
                exc.hint = (
                    "Send delete_subtasks=true to delete the sub-tasks with the issue."
                )
            raise
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssigneeApi(APIView):
    @extend_schema(
        operation_id="add_assignee",
        summary="Add Assignee",
        description=(
            "Needs the Browse Projects and Assign Issues permissions; the assignee "
            "needs Assignable User."
        ),
        parameters=[ISSUE_KEY_PARAMETER],
        request=AssigneeSerializer,
        responses={204: None, **PROBLEM_RESPONSES},
        examples=[
            OpenApiExample(
                "Jira Cloud", value={"account_id": "5b10ac8d82e05b22cc7d4ef5"},
                request_only=True,
            ),
            OpenApiExample("Jira Data Center", value={"username": "jsmith"}, request_only=True),
        ],
    )
    def put(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _issue_key(issue_key)
        serializer = _validated(AssigneeSerializer, request.data)

        site = _jira_site(request, token_id)
        user = serializer.user_for(is_cloud=site.is_cloud)
        jira.add_assignee(site, issue_key, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentApi(APIView):
    @extend_schema(
        operation_id="add_comments",
        summary="Add Comments",
        description="Needs the Browse Projects and Add Comments permissions.",
        parameters=[ISSUE_KEY_PARAMETER],
        request=CommentSerializer,
        responses={201: dict, **PROBLEM_RESPONSES},
        examples=[
            OpenApiExample("Plain text", value={"body": "Fixed in build 42."}, request_only=True)
        ],
    )
    def post(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _issue_key(issue_key)
        serializer = _validated(CommentSerializer, request.data)

        site = _jira_site(request, token_id)
        try:
            comment = jira.add_comment(
                site,
                issue_key,
                body=serializer.validated_data["body"],
                visibility=serializer.visibility(),
            )
        except ValueError as exc:
            raise serializers.ValidationError({"body": [str(exc)]}) from None
        return Response(comment, status=status.HTTP_201_CREATED)


class AttachmentApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="add_attachment",
        summary="Add Attachment",
        description=(
            "Upload one or more files as multipart/form-data parts named file. Needs "
            "the Browse Projects and Create Attachments permissions."
        ),
        parameters=[ISSUE_KEY_PARAMETER],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                },
                "required": ["file"],
            }
        },
        responses={
            200: {"type": "array", "items": {"type": "object"}},
            **PROBLEM_RESPONSES,
        },
    )
    def post(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _issue_key(issue_key)
        uploads = request.FILES.getlist("file")
        self._check_uploads(uploads)

        site = _jira_site(request, token_id)
        attached = jira.add_attachments(
            site,
            issue_key,
            files=[
                (upload.name, upload, upload.content_type or "application/octet-stream")
                for upload in uploads
            ],
        )
        return Response(attached)

    @staticmethod
    def _check_uploads(uploads: list) -> None:
        limit = settings.JIRA_MAX_ATTACHMENT_BYTES
        if not uploads:
            raise serializers.ValidationError(
                {"file": ["Send at least one file, as a multipart part named file."]}
            )
        if len(uploads) > jira.MAX_FILES_PER_UPLOAD:
            raise serializers.ValidationError(
                {"file": [f"Send at most {jira.MAX_FILES_PER_UPLOAD} files per request; "
                          f"got {len(uploads)}."]}
            )
        too_large = [upload.name for upload in uploads if upload.size > limit]
        if too_large:
            raise serializers.ValidationError(
                {"file": [f"{', '.join(too_large)} exceeds the {limit}-byte limit per file."]}
            )


class TransitionApi(APIView):
    @extend_schema(
        operation_id="update_issue_status",
        summary="Update Issue Status",
        description=(
            "Perform a workflow transition, chosen by transition_id, transition_name "
            "or the target status_name. Needs the Browse Projects and Transition "
            "Issues permissions."
        ),
        parameters=[ISSUE_KEY_PARAMETER],
        request=TransitionSerializer,
        responses={200: dict, **PROBLEM_RESPONSES},
        examples=[OpenApiExample("To Done", value={"status_name": "Done"}, request_only=True)],
    )
    def post(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _issue_key(issue_key)
        serializer = _validated(TransitionSerializer, request.data)

        site = _jira_site(request, token_id)
        data = serializer.validated_data
        try:
            result = issue_transition(
                site,
                issue_key,
                transition_id=data.get("transition_id"),
                transition_name=data.get("transition_name"),
                status_name=data.get("status_name"),
                fields=data.get("fields"),
                comment=data.get("comment"),
            )
        except ValueError as exc:
            raise serializers.ValidationError({"comment": [str(exc)]}) from None
        return Response(result)


class ProjectCreateApi(APIView):
    @extend_schema(
        operation_id="create_project",
        summary="Create Project",
        description="Needs the Administer Jira global permission.",
        request=ProjectCreateSerializer,
        responses={201: dict, **PROBLEM_RESPONSES},
        examples=[
            OpenApiExample(
                "A Kanban project on Jira Cloud",
                value={
                    "key": "SALES",
                    "name": "Sales",
                    "project_template_key": (
                        "com.pyxis.greenhopper.jira:gh-simplified-kanban-classic"
                    ),
                    "lead_account_id": "5b10ac8d82e05b22cc7d4ef5",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, token_id: UUID) -> Response:
        serializer = _validated(ProjectCreateSerializer, request.data)

        site = _jira_site(request, token_id)
        details = serializer.to_jira_details(is_cloud=site.is_cloud)
        created = jira.create_project(site, details=details)
        return Response(created, status=status.HTTP_201_CREATED)


class CapabilitiesApi(APIView):
    @extend_schema(
        operation_id="token_capabilities",
        summary="Token capabilities",
        description=(
            "For each activity, whether the token may run it in the project, from "
            "Jira's permissions and the OAuth scopes granted. Cached for 5 minutes."
        ),
        parameters=[CapabilitiesQuerySerializer],
        responses={200: dict, **PROBLEM_RESPONSES},
    )
    def get(self, request: Request, token_id: UUID) -> Response:
        query = _validated(CapabilitiesQuerySerializer, request.query_params)

        token = _usable_token(request)
        site = jira_site_for(token)
        project = query.validated_data.get("project")
        capabilities = token_capabilities(
            site, token_key=str(token.pk), granted_scopes=token.scopes, project_key=project
        )
        return Response({"project": project, "activities": capabilities})
