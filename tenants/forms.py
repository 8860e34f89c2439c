"""Forms of the tenant pages; each error names the value and how to fix it."""

from datetime import datetime, time

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from tenants.audit import ACTION_LABELS
from tenants.models import Application, Membership, Tenant
from tenants.selectors import tokens_choosable_for
from tokens.models import AccessToken, AuditEvent

_NAME_HELP = "Letters, numbers, spaces, dots, hyphens and underscores; at most 100."


def _clean_name(value: str, *, what: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise ValidationError(f"Enter a name for the {what}.")
    if not all(ch.isalnum() or ch in " ._-" for ch in name):
        raise ValidationError(
            f"{name!r} contains other characters: use letters, numbers, spaces, dots, "
            "hyphens and underscores."
        )
    return name


class ApplicationNameForm(forms.Form):
    """The name of a new or renamed application, unique in its tenant."""

    name = forms.CharField(label="Name", max_length=100, help_text=_NAME_HELP)

    def __init__(
        self,
        *args: object,
        tenant: Tenant,
        instance: Application | None = None,
        **kwargs: object,
    ) -> None:
        self.tenant = tenant
        self.instance = instance
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = _clean_name(self.cleaned_data["name"], what="application")
        others = Application.objects.filter(tenant=self.tenant, name__iexact=name)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError(
                f"{name!r} is already the name of an application of "
                f"{self.tenant.name}; choose another name."
            )
        return name


class ApplicationCreateForm(ApplicationNameForm):
    kind = forms.ChoiceField(
        label="Kind",
        choices=Application.Kind.choices,
        help_text=(
            "The tokens of a process-based app serve all of its processes; those of a "
            "form-based app serve only its forms."
        ),
        error_messages={
            "invalid_choice": "%(value)s is not a kind of application: choose "
            "Process-based or Form-based."
        },
    )


class _UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: object) -> str:
        return obj.email


class DesignersForm(forms.Form):
    designers = _UserChoiceField(
        label="Designers",
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="App designers who manage this application's tokens and choice.",
        error_messages={
            "invalid_choice": "%(value)s is not an app designer of this tenant: "
            "invite them on the Members page first.",
            "invalid_pk_value": "%(pk)s is not a user id: choose from the list.",
        },
    )

    def __init__(self, *args: object, application: Application, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.fields["designers"].queryset = get_user_model().objects.filter(
            memberships__tenant_id=application.tenant_id,
            memberships__role=Membership.Role.APP_DESIGNER,
        ).order_by("email")
        self.fields["designers"].initial = list(
            application.designers.values_list("pk", flat=True)
        )


class _TokenChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: AccessToken) -> str:
        scope = "global" if obj.is_global else "this application"
        return f"{obj.name} ({scope})"


class TokenChoiceForm(forms.Form):
    """The token an application runs its Jira activities with."""

    token = _TokenChoiceField(
        label="Access token",
        queryset=AccessToken.objects.none(),
        required=False,
        empty_label="No token",
        help_text="This application's own tokens and the tenant's global tokens.",
        error_messages={
            "invalid_choice": "That token is not one of this application's tokens or "
            "a global token: choose one from the list.",
        },
    )

    def __init__(self, *args: object, application: Application, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.fields["token"].queryset = tokens_choosable_for(application).order_by(
            "application", "name"
        )
        self.fields["token"].initial = application.token_id


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        error_messages={
            "invalid": "Enter an email address such as name@example.com.",
        },
    )
    role = forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        initial=Membership.Role.APP_DESIGNER,
        error_messages={
            "invalid_choice": "%(value)s is not a role: choose Administrator or App "
            "designer."
        },
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        error_messages={
            "invalid_choice": "%(value)s is not a role: choose Administrator or App "
            "designer."
        },
    )


class _ApplicationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Application) -> str:
        return obj.name


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="The service that will use the key, for example Orders sync.",
    )
    application = _ApplicationChoiceField(
        label="Scope",
        queryset=Application.objects.none(),
        required=False,
        empty_label="Tenant: global tokens only",
        help_text=(
            "A key of an application may also use that application's own tokens."
        ),
        error_messages={
            "invalid_choice": "That application is not in this tenant: choose one "
            "from the list.",
        },
    )

    def __init__(self, *args: object, tenant: Tenant, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["application"].queryset = Application.objects.filter(tenant=tenant)

    def clean_name(self) -> str:
        return _clean_name(self.cleaned_data["name"], what="API key")


class AuditFilterForm(forms.Form):
    """Filters of the audit log page; every field is optional."""

    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any action"), *sorted(ACTION_LABELS.items(), key=lambda c: c[1])],
        error_messages={
            "invalid_choice": "%(value)s is not an audited action: choose one from "
            "the list."
        },
    )
    result = forms.ChoiceField(
        label="Result",
        required=False,
        choices=[("", "Any result"), *AuditEvent.Result.choices],
        error_messages={
            "invalid_choice": "%(value)s is not a result: choose success, failure or "
            "denied."
        },
    )
    subject = forms.CharField(
        label="Token or subject", required=False, max_length=100
    )
    actor = forms.CharField(label="Member email", required=False, max_length=254)
    since = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD."},
    )
    until = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD."},
    )

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise ValidationError(
                f"The start date {since} is after the end date {until}: swap them."
            )
        return data

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """Return the events that match the valid filters."""
        data = self.cleaned_data
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("result"):
            events = events.filter(result=data["result"])
        if data.get("subject"):
            events = events.filter(token_name__icontains=data["subject"])
        if data.get("actor"):
            events = events.filter(actor__email__icontains=data["actor"])
        zone = timezone.get_current_timezone()
        if data.get("since"):
            start = datetime.combine(data["since"], time.min, tzinfo=zone)
            events = events.filter(created_at__gte=start)
        if data.get("until"):
            end = datetime.combine(data["until"], time.max, tzinfo=zone)
            events = events.filter(created_at__lte=end)
        return events
