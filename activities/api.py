"""REST API views: parse the request, run one activity, shape the answer."""

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activities import jira
from activities.serializers import (
    ISSUE_KEY_OR_ID,
    IssueCreatedSerializer,
    IssueCreateSerializer,
    IssueQuerySerializer,
)
from tokens.models import AccessToken, Flavour
from tokens.selectors import token_get_for_api_key
from tokens.services import token_prepare_for_use


def _jira_site(request: Request, token_id: UUID) -> jira.JiraSite:
    """Return the Jira site of a token the caller may use, ready for a call."""
    try:
        token = token_get_for_api_key(api_key=request.auth, token_id=token_id)
    except AccessToken.DoesNotExist:
        raise NotFound(f"No access token {token_id} is available to this API key.")
    token = token_prepare_for_use(token=token)
    return jira.JiraSite(
        api_base=token.jira_api_base(),
        access_token=token.get_secret("access_token"),
        is_cloud=token.flavour == Flavour.CLOUD,
    )


def _validated_issue_key(issue_key: str) -> str:
    try:
        ISSUE_KEY_OR_ID(issue_key)
    except Exception as exc:
        raise serializers.ValidationError({"issue_key": list(exc.messages)}) from None
    return issue_key


class IssueCreateApi(APIView):
    @extend_schema(
        operation_id="create_issue",
        summary="Create Issue",
        description=(
            "Create a Jira issue through the access token. Needs the Browse Projects "
            "and Create Issues permissions in the project."
        ),
        request=IssueCreateSerializer,
        responses={201: IssueCreatedSerializer},
    )
    def post(self, request: Request, token_id: UUID) -> Response:
        serializer = IssueCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        site = _jira_site(request, token_id)
        created = jira.create_issue(site, fields=serializer.to_jira_fields())
        return Response(created, status=status.HTTP_201_CREATED)


class IssueDetailApi(APIView):
    @extend_schema(
        operation_id="get_issue_details",
        summary="Get Issue Details",
        description="Return Jira's issue. Needs the Browse Projects permission.",
        parameters=[IssueQuerySerializer],
        responses={200: dict},
    )
    def get(self, request: Request, token_id: UUID, issue_key: str) -> Response:
        _validated_issue_key(issue_key)
        query = IssueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)

        site = _jira_site(request, token_id)
        issue = jira.get_issue(
            site,
            issue_key,
            fields=query.validated_data.get("fields"),
            expand=query.validated_data.get("expand"),
        )
        return Response(issue)
