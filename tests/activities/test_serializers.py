"""Request-body serializers build their fields from the declared ones per instance."""

from activities.serializers import (
    IssueCreateSerializer,
    ProjectCreateSerializer,
    TransitionSerializer,
)

VALID = {"project": "DEMO", "issue_type": "Task", "summary": "Printer jammed"}


def test_instances_get_their_own_fields():
    first = IssueCreateSerializer(data=VALID)
    second = IssueCreateSerializer(data=VALID)

    for name, declared in IssueCreateSerializer._declared_fields.items():
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second
        # The declared field stays unbound, ready to be copied again.
        assert declared.parent is None


def test_list_child_belongs_to_the_copy():
    serializer = IssueCreateSerializer(data=VALID)

    labels = serializer.fields["labels"]

    assert labels.child.parent is labels
    assert labels.child is not IssueCreateSerializer._declared_fields["labels"].child


def test_copied_fields_validate_and_report():
    invalid = IssueCreateSerializer(
        data={**VALID, "summary": "x" * 256, "labels": ["ok", "has space"]}
    )
    valid = IssueCreateSerializer(data={**VALID, "labels": ["office"]})

    assert not invalid.is_valid()
    assert "255" in str(invalid.errors["summary"][0])
    assert invalid.errors["labels"] == {1: ["Labels cannot contain spaces."]}
    assert valid.is_valid(), valid.errors
    assert valid.validated_data["labels"] == ["office"]


def test_bad_transition_id_names_the_form():
    serializer = TransitionSerializer(data={"transition_id": "abc"})

    assert not serializer.is_valid()
    assert serializer.errors["transition_id"] == ["Give the transition's numeric id, such as 31."]


def test_bad_project_type_lists_the_types():
    serializer = ProjectCreateSerializer(data={"project_type_key": "foo"})

    assert not serializer.is_valid()
    assert serializer.errors["project_type_key"] == [
        '"foo" is not a project type: use one of software, service_desk, business.'
    ]
