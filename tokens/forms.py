import ipaddress
import re
import socket
from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from config import outbound
from tenants.models import Application, Tenant
from tokens.models import AccessToken, Flavour, RenewalRate, token_name_validator
from tokens.services import TokenFields

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
_SECRET_PATTERN = re.compile(r"^[\x21-\x7e]+$")


class SecretInput(forms.PasswordInput):
    """A password box that never renders the stored value."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs={"autocomplete": "off", **(attrs or {})}, render_value=False)


def _normalise_portal_url(value: str) -> str:
    parts = urlsplit(value)
    http_allowed = settings.JIRA_ALLOW_HTTP or outbound.host_is_allowed(
        parts.hostname or "", parts.port if parts.port else 80
    )
    allowed = {"https", "http"} if http_allowed else {"https"}
    if parts.scheme not in allowed:
        raise ValidationError(
            f"{value} must start with https://, for example "
            "https://your-domain.atlassian.net/."
        )
    if parts.username or parts.password:
        raise ValidationError(f"Remove the user name and password from {value}.")
    if parts.query or parts.fragment:
        raise ValidationError(
            f"{value} has a query or fragment; enter only the site's base URL, for "
            "example https://your-domain.atlassian.net/."
        )
    path = parts.path.rstrip("/")
    normalised = urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))

    # The guard checks again when the server connects, which also catches a name
    # that resolves differently later; this check only explains a refusal early.
    try:
        outbound.check_url(normalised)
    except outbound.UnresolvableHost:
        # NOTE: a name DNS cannot resolve now is accepted, so that a DNS outage
        # does not block editing; connecting to it fails until it resolves.
        pass
    except outbound.ForbiddenDestination as exc:
        raise ValidationError(
            f"{value} cannot be used because {lowercase_first(str(exc))} Enter the "
            "public address of your Jira site, for example "
            "https://your-domain.atlassian.net/."
        ) from None
    return normalised


def lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _reject_legacy_numeric_host(value: str) -> None:
    """Explain a host written as a number in a legacy form, such as 2130706433.

    URLValidator rejects 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 without a
    reason, yet resolvers read each of them as an IPv4 address.
    """
    host = urlsplit(value).hostname or ""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    try:
        address = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return
    reason = outbound.forbidden_reason(address)
    if reason:
        raise ValidationError(
            f"{value} cannot be used because {host} is {address}, {reason}. Enter "
            "the public address of your Jira site, for example "
            "https://your-domain.atlassian.net/."
        )
    raise ValidationError(
        f"{value} writes the address {address} as {host}: enter {address} or, "
        "better, the site's name."
    )


class PortalURLField(forms.URLField):
    """A URL field that explains why a host written as a legacy number is invalid."""

    def run_validators(self, value: str) -> None:
        if value:
            _reject_legacy_numeric_host(value)
        super().run_validators(value)


class AccessTokenForm(forms.Form):
    """The configuration screen of a Jira access token.

    Secret fields never show the stored value: left blank, they keep it.
    """

    name = forms.CharField(
        label="Token Name",
        max_length=100,
        help_text=(
            "Specifies the unique name for your connection to Jira Software. "
            "Letters, numbers and spaces."
        ),
    )
    flavour = forms.ChoiceField(
        label="Jira Deployment",
        choices=Flavour.choices,
        initial=Flavour.CLOUD,
        help_text=(
            "Jira Cloud sites end in atlassian.net and use Atlassian's OAuth server. "
            "Jira Data Center serves its own, under the portal URL."
        ),
    )
    portal_url = PortalURLField(
        label="Jira Portal URL",
        max_length=300,
        assume_scheme="https",
        help_text=(
            "Specifies the base URL of your Jira Software site, for example "
            "https://customdomainname.atlassian.net/."
        ),
    )
    consumer_key = forms.CharField(
        label="Consumer Key",
        max_length=200,
        help_text=(
            "Specifies the consumer key (client ID) of the app you created or added "
            "in Jira Software."
        ),
    )
    consumer_secret = forms.CharField(
        label="Consumer Secret",
        max_length=500,
        required=False,
        strip=True,
        widget=SecretInput(),
        help_text=(
            "Specifies the consumer secret of the app you created or added in Jira "
            "Software."
        ),
    )
    callback_url = forms.URLField(
        label="Callback URL",
        max_length=300,
        assume_scheme="https",
        help_text=(
            "Specifies the callback URL from the connected application. Paste this "
            "URL into the app's callback URL in Jira's developer console."
        ),
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="A description for your access token.",
    )
    access_token = forms.CharField(
        label="OAuth 2.0 Access Token",
        required=False,
        max_length=4096,
        widget=SecretInput(),
        help_text=(
            "Specifies an OAuth 2.0 access token from Jira Software. Use Get OAuth "
            "2.0 Access Token below, or paste a token you already have."
        ),
    )
    renewal_rate = forms.TypedChoiceField(
        label="Renewal Rate",
        choices=RenewalRate.choices,
        coerce=int,
        initial=RenewalRate.EVERY_HOUR,
        help_text="Specifies how frequently to renew your application's access token.",
    )

    def __init__(
        self,
        *args: object,
        tenant: Tenant,
        application: Application | None,
        instance: AccessToken | None = None,
        **kwargs: object,
    ) -> None:
        if application is not None and application.tenant_id != tenant.pk:
            raise ValueError("An application-level token must be in its own tenant.")
        self.tenant = tenant
        self.application = application
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "flavour": instance.flavour,
                    "portal_url": instance.portal_url,
                    "consumer_key": instance.consumer_key,
                    "callback_url": instance.callback_url,
                    "description": instance.description,
                    "renewal_rate": instance.renewal_rate,
                },
            )
        super().__init__(*args, **kwargs)
        for field in ("consumer_secret", "access_token"):
            if self.is_bound and self.data.get(self.add_prefix(field)):
                # A secret is never sent back to the browser, so a form shown again
                # with errors has this field empty.
                self.fields[field].widget.attrs["placeholder"] = (
                    "Type the value again: secrets are not shown after a submit."
                )
            elif instance is not None and instance.has_secret(field):
                self.fields[field].widget.attrs["placeholder"] = (
                    "A value is set. Leave blank to keep it."
                )
        if instance is None or not instance.has_secret("consumer_secret"):
            self.fields["consumer_secret"].required = True

    def renewal_rate_warning(self) -> str:
        """Return a warning when the chosen rate alone would let the token expire."""
        rate = self.initial.get("renewal_rate", RenewalRate.EVERY_HOUR)
        if self.is_bound and self.is_valid():
            rate = self.cleaned_data["renewal_rate"]
        token = AccessToken(renewal_rate=int(rate))
        if token.rate_keeps_alive():
            return ""
        if token.renewal_rate == RenewalRate.DISABLED:
            return (
                "With renewal disabled, the access token stops working when it "
                "expires, one hour after it was issued, until someone uses Renew now."
            )
        return (
            f"Jira's access tokens last one hour, so the token is renewed "
            f"{settings.JIRA_TOKEN_REFRESH_MARGIN // 60} minutes before each expiry, "
            f"a little more often than every {token.renewal_rate} minutes, to stay "
            "connected."
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        token_name_validator(name)

        others = AccessToken.objects.filter(
            tenant=self.tenant, application=self.application, name__iexact=name
        )
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            scope = "this application" if self.application else "the global tokens"
            raise ValidationError(
                f"{name!r} is already used by another token of {scope}; choose "
                "another name."
            )
        return name

    def clean_portal_url(self) -> str:
        return _normalise_portal_url(self.cleaned_data["portal_url"])

    def clean_consumer_key(self) -> str:
        key = self.cleaned_data["consumer_key"]
        if not _KEY_PATTERN.match(key):
            raise ValidationError(
                "Consumer Key may contain only letters, numbers, dots, hyphens and "
                "underscores: copy the Client ID from the app's settings in Jira."
            )
        return key

    def clean_consumer_secret(self) -> str:
        secret = self.cleaned_data["consumer_secret"]
        if secret and not _SECRET_PATTERN.match(secret):
            raise ValidationError(
                "Consumer Secret contains spaces or characters that are not plain "
                "ASCII: copy the Secret from the app's settings in Jira again."
            )
        return secret

    def clean_callback_url(self) -> str:
        value = self.cleaned_data["callback_url"]
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValidationError(f"{value} must be an absolute http or https URL.")
        if parts.fragment:
            raise ValidationError(f"Remove the #fragment from {value}.")
        return value

    def clean_access_token(self) -> str:
        value = self.cleaned_data["access_token"]
        if value and not _SECRET_PATTERN.match(value):
            raise ValidationError(
                "The OAuth 2.0 Access Token contains spaces or characters that are "
                "not plain ASCII: paste the token alone."
            )
        return value

    def to_fields(self) -> TokenFields:
        data = self.cleaned_data
        return TokenFields(
            name=data["name"],
            flavour=data["flavour"],
            portal_url=data["portal_url"],
            consumer_key=data["consumer_key"],
            consumer_secret=data["consumer_secret"] or None,
            callback_url=data["callback_url"],
            description=data["description"],
            access_token=data["access_token"] or None,
            renewal_rate=data["renewal_rate"],
        )


class CapabilitiesForm(forms.Form):
    project = forms.CharField(
        label="Project key",
        required=False,
        max_length=10,
        help_text="A project key such as DEMO. Leave blank to check across all projects.",
        validators=[
            RegexValidator(
                r"^[A-Z][A-Z0-9_]{0,9}$",
                "Give a project key: an uppercase letter, then up to 9 uppercase "
                "letters, digits or underscores, for example DEMO.",
            )
        ],
    )
