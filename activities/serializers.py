from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from activities.adf import is_adf_document, text_to_adf

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


class RichTextField(serializers.Field):
    """Plain text, converted to an ADF document, or a ready ADF document."""

    default_error_messages = {
        "invalid": (
            "Give plain text, or an Atlassian Document Format object with "
            'type "doc", version 1 and a content list.'
        ),
        "too_long": "The text is longer than {max_length} characters.",
    }

    def __init__(self, *, max_length: int = 32767, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> dict[str, Any]:
        if isinstance(data, str):
            if len(data) > self.max_length:
                self.fail("too_long", max_length=self.max_length)
            return text_to_adf(data)
        if is_adf_document(data):
            return data
        self.fail("invalid")

    def to_representation(self, value: object) -> object:
        return value


class IssueCreateSerializer(serializers.Serializer):
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
    due_date = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
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

    def to_jira_fields(self) -> dict[str, Any]:
        data = self.validated_data
        project = data["project"]
        issue_type = data["issue_type"]
        fields: dict[str, Any] = {
            "project": {"id": project} if project.isdigit() else {"key": project},
            "issuetype": {"id": issue_type} if issue_type.isdigit() else {"name": issue_type},
            "summary": data["summary"],
        }
        if "description" in data:
            fields["description"] = data["description"]
        if "labels" in data:
            fields["labels"] = data["labels"]
        if "priority" in data:
            fields["priority"] = {"name": data["priority"]}
        if "assignee_account_id" in data:
            fields["assignee"] = {"accountId": data["assignee_account_id"]}
        if "due_date" in data:
            fields["duedate"] = data["due_date"].isoformat()
        fields.update(data.get("extra_fields", {}))
        return fields


class IssueCreatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    key = serializers.CharField()
    self = serializers.URLField()


class IssueQuerySerializer(serializers.Serializer):
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
