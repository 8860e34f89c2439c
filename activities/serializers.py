import copy
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from activities.adf import is_adf_document
from activities.jira import JiraSite, rich_text, user_reference

PROJECT_KEY_OR_ID = RegexValidator(
    r"^([A-Z][A-Z0-9_]{0,9}|[0-9]+)$",
    "Give a project key such as DEMO (an uppercase letter, then up to 9 uppercase "
    "letters, digits or underscores) or a numeric project id.",
)
ISSUE_KEY_OR_ID = RegexValidator(
    r"^([A-Z][A-Z0-9_]{0,9}-[1-9][0-9]*|[0-9]+)$",
    "Give an issue key such as DEMO-12 or a numeric issue id.",
)
NO_WHITESPACE = RegexValidator(r"^\S+$", "Labels cannot contain spaces.")
ACCOUNT_ID = RegexValidator(
    r"^[A-Za-z0-9:_-]{1,128}$", "Give a Jira account id such as 5b10ac8d82e05b22cc7d4ef5."
)
CUSTOM_FIELD = RegexValidator(
    r"^customfield_[0-9]+$",
    "Only custom fields (customfield_NNNNN) go in extra_fields; use the named "
    "parameters for the others.",
)
FIELD_NAME = RegexValidator(
    r"^-?(\*all|\*navigable|[A-Za-z0-9_]+)$",
    "Give field names such as summary or customfield_10010, *all, *navigable, or "
    "-name to exclude one.",
)
EXPANDABLE = ["renderedFields", "names", "schema", "transitions", "editmeta", "changelog"]


def _rich_text(site: JiraSite, field: str, value: str | dict[str, Any]) -> object:
    try:
        return rich_text(site, value)
    except ValueError:
        raise serializers.ValidationError(
            {field: ["This token's Jira Data Center takes plain text here, not ADF."]}
        ) from None


def _user_for(
    site: JiraSite, data: dict[str, Any], cloud_field: str, dc_field: str
) -> str | None:
    """Return the user named for the site's flavour, rejecting the other flavour's field."""
    wanted, other = (cloud_field, dc_field) if site.is_cloud else (dc_field, cloud_field)
    if other in data:
        flavour = "Jira Cloud" if site.is_cloud else "Jira Data Center"
        raise serializers.ValidationError(
            {other: [f"This token is for {flavour}: give {wanted} instead."]}
        )
    return data.get(wanted)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "Plain text."},
            {"type": "object", "description": "An Atlassian Document Format document."},
        ]
    }
)
class RichTextField(serializers.Field):
    """Plain text, converted to an ADF document, or a ready ADF document."""

    default_error_messages = {
        "invalid": (
            "Give plain text, or an Atlassian Document Format object with "
            'type "doc", version 1 and a content list.'
        ),
        "too_long": "The text is longer than {max_length} characters.",
        "blank": "The text is empty; give at least one visible character.",
    }

    def __init__(self, *, max_length: int = 32767, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> str | dict[str, Any]:
        if isinstance(data, str):
            if not data.strip():
                self.fail("blank")
            if len(data) > self.max_length:
                self.fail("too_long", max_length=self.max_length)
            return data
        if is_adf_document(data):
            return data
        self.fail("invalid")

    def to_representation(self, value: object) -> object:
        return value


def _has_subfields(field: serializers.Field) -> bool:
    return hasattr(field, "child") or isinstance(field, serializers.BaseSerializer)


class _RejectsUnknownNames:
    """Reject names the serializer does not declare, listing the declared ones."""

    unknown_message = "Unknown field; the fields are: {names}."

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                message = self.unknown_message.format(names=", ".join(self.fields))
                raise serializers.ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


class QueryParametersSerializer(_RejectsUnknownNames, serializers.Serializer):
    """Query parameters; one not listed here is rejected with a 400."""

    unknown_message = "Unknown query parameter; the parameters are: {names}."


class RequestBodySerializer(_RejectsUnknownNames, serializers.Serializer):
    """A request body; a field not listed here is rejected with a 400."""

    # drf-spectacular shows the docstring above as every request schema's description.
    # DRF would drop undeclared fields, so a misspelt "descripton" would vanish unseen.

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF's deep copy reruns each field's __init__ on every call. Declared fields
        # are never bound, so a shallow copy will do, except where a child field
        # must belong to the copy.
        return {
            name: copy.deepcopy(field) if _has_subfields(field) else copy.copy(field)
            for name, field in self._declared_fields.items()
        }


class IssueCreateSerializer(RequestBodySerializer):
    project = serializers.CharField(validators=[PROJECT_KEY_OR_ID])
    issue_type = serializers.CharField(
        max_length=60, help_text="Issue type name (Task) or numeric id (10001)."
    )
    summary = serializers.CharField(max_length=255)
    description = RichTextField(required=False)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=255, validators=[NO_WHITESPACE]),
        required=False,
        max_length=50,
    )
    priority = serializers.CharField(max_length=60, required=False)
    assignee_account_id = serializers.CharField(required=False, validators=[ACCOUNT_ID])
    assignee_username = serializers.CharField(required=False, max_length=255)
    due_date = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
    parent = serializers.CharField(
        required=False,
        validators=[ISSUE_KEY_OR_ID],
        help_text="Key or id of the parent issue; a sub-task needs one.",
    )
    extra_fields = serializers.DictField(required=False)

    def validate_summary(self, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise serializers.ValidationError(
                "The summary must be one line: move the rest to description."
            )
        return value

    def validate_extra_fields(self, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            CUSTOM_FIELD(key)
        return value

    def to_jira_fields(self, site: JiraSite) -> dict[str, Any]:
        data = self.validated_data
        project = data["project"]
        issue_type = data["issue_type"]
        fields: dict[str, Any] = {
            "project": {"id": project} if project.isdigit() else {"key": project},
            "issuetype": {"id": issue_type} if issue_type.isdigit() else {"name": issue_type},
            "summary": data["summary"],
        }
        if "description" in data:
            fields["description"] = _rich_text(site, "description", data["description"])
        if "labels" in data:
            fields["labels"] = data["labels"]
        if "priority" in data:
            fields["priority"] = {"name": data["priority"]}
        assignee = _user_for(site, data, "assignee_account_id", "assignee_username")
        if assignee is not None:
            fields["assignee"] = user_reference(site, assignee)
        if "due_date" in data:
            fields["duedate"] = data["due_date"].isoformat()
        if "parent" in data:
            parent = data["parent"]
            fields["parent"] = {"id": parent} if parent.isdigit() else {"key": parent}
        fields.update(data.get("extra_fields", {}))
        return fields


class IssueCreatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    key = serializers.CharField()
    self = serializers.URLField()


class IssueQuerySerializer(QueryParametersSerializer):
    fields = serializers.CharField(required=False, help_text="Comma-separated field names.")
    expand = serializers.CharField(
        required=False, help_text=f"Comma-separated, from: {', '.join(EXPANDABLE)}."
    )

    def validate_fields(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        for name in names:
            FIELD_NAME(name)
        return names

    def validate_expand(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in EXPANDABLE]
        if unknown:
            raise serializers.ValidationError(
                f"Cannot expand {', '.join(unknown)}; choose from {', '.join(EXPANDABLE)}."
            )
        return names


class UserField(serializers.CharField):
    """A Jira user: an account id on Cloud, a username on Data Center."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=255, **kwargs)


class AssigneeSerializer(RequestBodySerializer):
    account_id = serializers.CharField(
        required=False, allow_null=True, validators=[ACCOUNT_ID],
        help_text='Jira Cloud account id; "-1" for the project default, null to unassign.',
    )
    username = serializers.CharField(
        required=False, allow_null=True, max_length=255,
        help_text='Jira Data Center username; "-1" for the project default, null to unassign.',
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("account_id", "username") if name in data]
        if len(given) != 1:
            raise serializers.ValidationError(
                "Give exactly one of account_id (Jira Cloud) or username (Jira Data "
                "Center); null unassigns and \"-1\" picks the project default."
            )
        return data

    def user_for(self, *, is_cloud: bool) -> str | None:
        field, other = ("account_id", "username") if is_cloud else ("username", "account_id")
        if other in self.validated_data:
            flavour = "Jira Cloud" if is_cloud else "Jira Data Center"
            raise serializers.ValidationError(
                {other: [f"This token is for {flavour}: give {field} instead."]}
            )
        return self.validated_data[field]


class CommentSerializer(RequestBodySerializer):
    body = RichTextField()
    visibility_type = serializers.ChoiceField(choices=["role", "group"], required=False)
    visibility_value = serializers.CharField(max_length=255, required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("visibility_type" in data) != ("visibility_value" in data):
            raise serializers.ValidationError(
                "Give visibility_type and visibility_value together, or neither."
            )
        return data

    def visibility(self) -> dict[str, str] | None:
        data = self.validated_data
        if "visibility_type" not in data:
            return None
        return {"type": data["visibility_type"], "value": data["visibility_value"]}


class IssueUpdateSerializer(RequestBodySerializer):
    summary = serializers.CharField(max_length=255, required=False)
    description = RichTextField(required=False, allow_null=True)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=255, validators=[NO_WHITESPACE]),
        required=False,
        max_length=50,
    )
    priority = serializers.CharField(max_length=60, required=False)
    due_date = serializers.DateField(required=False, allow_null=True, input_formats=["%Y-%m-%d"])
    extra_fields = serializers.DictField(required=False)
    notify_users = serializers.BooleanField(default=True)

    validate_summary = IssueCreateSerializer.validate_summary
    validate_extra_fields = IssueCreateSerializer.validate_extra_fields

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not set(data) - {"notify_users"}:
            raise serializers.ValidationError(
                "Give at least one field to change: summary, description, labels, "
                "priority, due_date or extra_fields."
            )
        return data

    def to_jira_fields(self, site: JiraSite) -> dict[str, Any]:
        data = self.validated_data
        fields: dict[str, Any] = {}
        for name in ("summary", "labels"):
            if name in data:
                fields[name] = data[name]
        if "description" in data:
            description = data["description"]
            fields["description"] = (
                None if description is None else _rich_text(site, "description", description)
            )
        if "priority" in data:
            fields["priority"] = {"name": data["priority"]}
        if "due_date" in data:
            fields["duedate"] = data["due_date"].isoformat() if data["due_date"] else None
        fields.update(data.get("extra_fields", {}))
        return fields


class TransitionSerializer(RequestBodySerializer):
    transition_id = serializers.RegexField(
        r"^[0-9]{1,10}$",
        required=False,
        error_messages={"invalid": "Give the transition's numeric id, such as 31."},
    )
    transition_name = serializers.CharField(max_length=255, required=False)
    status_name = serializers.CharField(max_length=255, required=False)
    fields = serializers.DictField(required=False)
    comment = RichTextField(required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        given = [n for n in ("transition_id", "transition_name", "status_name") if n in data]
        if len(given) != 1:
            raise serializers.ValidationError(
                "Give exactly one of transition_id, transition_name or status_name."
            )
        return data


class DeleteIssueQuerySerializer(QueryParametersSerializer):
    delete_subtasks = serializers.BooleanField(
        default=False, help_text="Also delete the issue's sub-tasks; without it, an "
        "issue with sub-tasks is not deleted."
    )


PROJECT_KEY = RegexValidator(
    r"^[A-Z][A-Z0-9]{1,9}$",
    "Give a project key of 2 to 10 characters: an uppercase letter, then uppercase "
    "letters or digits, for example SALES2.",
)
PROJECT_TYPES = ["software", "service_desk", "business"]
TEMPLATE_TYPES = {
    "com.pyxis.greenhopper.jira:": "software",
    "com.atlassian.servicedesk:": "service_desk",
    "com.atlassian.jira-core-project-templates:": "business",
}


class ProjectCreateSerializer(RequestBodySerializer):
    key = serializers.CharField(validators=[PROJECT_KEY])
    name = serializers.CharField(max_length=80)
    project_type_key = serializers.ChoiceField(
        choices=PROJECT_TYPES,
        required=False,
        error_messages={
            "invalid_choice": f'"{{input}}" is not a project type: use one of '
            f"{', '.join(PROJECT_TYPES)}."
        },
    )
    project_template_key = serializers.RegexField(
        r"^[A-Za-z0-9.:_-]{1,255}$", required=False
    )
    lead_account_id = serializers.CharField(required=False, validators=[ACCOUNT_ID])
    lead_username = serializers.CharField(required=False, max_length=255)
    description = serializers.CharField(required=False, max_length=10000)
    url = serializers.URLField(required=False)
    assignee_type = serializers.ChoiceField(
        choices=["PROJECT_LEAD", "UNASSIGNED"], required=False
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        template = data.get("project_template_key")
        if template:
            implied = next(
                (kind for prefix, kind in TEMPLATE_TYPES.items() if template.startswith(prefix)),
                None,
            )
            if implied is None:
                raise serializers.ValidationError(
                    {"project_template_key": [
                        f"{template} is not a known project template: use a key such as "
                        "com.pyxis.greenhopper.jira:gh-simplified-kanban-classic."
                    ]}
                )
            if data.get("project_type_key", implied) != implied:
                raise serializers.ValidationError(
                    {"project_type_key": [
                        f"Template {template} makes a {implied} project, not "
                        f"{data['project_type_key']}."
                    ]}
                )
            data["project_type_key"] = implied
        if "project_type_key" not in data:
            raise serializers.ValidationError(
                {"project_type_key": ["Give project_type_key or project_template_key."]}
            )
        leads = [name for name in ("lead_account_id", "lead_username") if name in data]
        if len(leads) != 1:
            raise serializers.ValidationError(
                "Give exactly one of lead_account_id (Jira Cloud) or lead_username (Jira "
                "Data Center)."
            )
        return data

    def to_jira_details(self, *, is_cloud: bool) -> dict[str, Any]:
        data = self.validated_data
        lead_field, other = (
            ("lead_account_id", "lead_username") if is_cloud else ("lead_username", "lead_account_id")
        )
        if other in data:
            raise serializers.ValidationError(
                {other: [f"This token's Jira takes {lead_field} instead."]}
            )
        details: dict[str, Any] = {
            "key": data["key"],
            "name": data["name"],
            "projectTypeKey": data["project_type_key"],
            ("leadAccountId" if is_cloud else "lead"): data[lead_field],
        }
        optional = {
            "project_template_key": "projectTemplateKey",
            "description": "description",
            "url": "url",
            "assignee_type": "assigneeType",
        }
        for name, jira_name in optional.items():
            if name in data:
                details[jira_name] = data[name]
        return details


class CapabilitiesQuerySerializer(QueryParametersSerializer):
    project = serializers.CharField(required=False, validators=[PROJECT_KEY_OR_ID])


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document; Jira's own errors are kept under `jira`."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(required=False)
    jira = serializers.DictField(required=False)
    transitions = serializers.ListField(child=serializers.DictField(), required=False)
