import uuid
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tenants.models import Application, Tenant
from tokens import encryption, oauth

token_name_validator = RegexValidator(
    r"^[A-Za-z0-9]+( [A-Za-z0-9]+)*$",
    "Use letters, numbers and single spaces only, for example Jira Sales 2.",
    code="invalid_name",
)


# Jira Cloud's access token lifetime and the reuse interval of a rotated refresh
# token, as Atlassian documents them.
ACCESS_TOKEN_LIFETIME = 3600
REFRESH_TOKEN_REUSE_SECONDS = 600
# A recovery starts this much before the reuse interval ends, so that clock skew
# and a slow response cannot push the old refresh token past it.
REUSE_SAFETY_SECONDS = 60


class RenewalRate(models.IntegerChoices):
    """How often the token is renewed, in minutes; 0 turns renewal off."""

    DISABLED = 0, "Disabled"
    EVERY_15_MINUTES = 15, "Every 15 minutes"
    EVERY_HALF_HOUR = 30, "Every half an hour"
    EVERY_HOUR = 60, "Every hour"


class Flavour(models.TextChoices):
    CLOUD = "cloud", "Jira Cloud"
    DATA_CENTER = "data_center", "Jira Data Center"


class TokenStatus(models.TextChoices):
    NOT_CONNECTED = "not_connected", "Not connected"
    CONNECTED = "connected", "Connected"
    RENEWAL_FAILING = "renewal_failing", "Renewal failing"
    CONSENT_NEEDED = "consent_needed", "Consent needed"


class AccessToken(models.Model):
    """A tenant's OAuth 2.0 connection to one Jira Software site.

    Global when `application` is empty (every application of the tenant may use it),
    application-level otherwise. Consumer secret, access token and refresh token are
    stored encrypted and bound to this row; read and write them with get_secret()
    and set_secret().
    """

    SECRET_FIELDS = ("consumer_secret", "access_token", "refresh_token")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tokens")
    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tokens",
    )
    name = models.CharField(max_length=100, validators=[token_name_validator])
    flavour = models.CharField(max_length=20, choices=Flavour.choices, default=Flavour.CLOUD)
    portal_url = models.URLField(max_length=300)
    consumer_key = models.CharField(max_length=200)
    consumer_secret_encrypted = models.TextField(blank=True)
    callback_url = models.URLField(max_length=300)
    description = models.TextField(blank=True)
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.TextField(blank=True)
    cloud_id = models.CharField(max_length=64, blank=True)
    site_url = models.URLField(max_length=300, blank=True)
    renewal_rate = models.PositiveSmallIntegerField(
        choices=RenewalRate.choices, default=RenewalRate.EVERY_HOUR
    )
    status = models.CharField(
        max_length=20, choices=TokenStatus.choices, default=TokenStatus.NOT_CONNECTED
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    next_renewal_at = models.DateTimeField(null=True, blank=True)
    last_renewed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Bumped with every stored token pair: a renewal stores its response only while
    # the version it started from is still current.
    version = models.PositiveBigIntegerField(default=0)
    # Set when a sweep or "Renew now" queues a renewal, cleared when one finishes.
    renewal_queued_at = models.DateTimeField(null=True, blank=True)
    # Committed before the refresh request and cleared once its response is stored:
    # while set, Jira may have rotated the refresh token without the new one being
    # stored here.
    renewal_started_at = models.DateTimeField(null=True, blank=True)
    # The renewer that set this owns the refresh until then.
    renewal_lease_until = models.DateTimeField(null=True, blank=True)
    renewal_failures = models.PositiveSmallIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "tenant",
                Lower("name"),
                condition=models.Q(application__isnull=True),
                name="token_unique_global_name",
                violation_error_message="A global token with this name already exists.",
            ),
            models.UniqueConstraint(
                "tenant",
                "application",
                Lower("name"),
                condition=models.Q(application__isnull=False),
                name="token_unique_application_name",
                violation_error_message=(
                    "This application already has a token with this name."
                ),
            ),
        ]
        indexes = [
            # The sweep's query reads only the few due rows through this index; its
            # condition must match tokens_due_for_renewal's filter.
            models.Index(
                fields=["next_renewal_at"],
                name="token_renewal_due_idx",
                condition=models.Q(
                    status__in=["connected", "renewal_failing"], renewal_rate__gt=0
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_global(self) -> bool:
        return self.application_id is None

    @property
    def portal_host(self) -> str:
        return (urlsplit(self.portal_url).hostname or "").lower()

    def oauth_server(self) -> oauth.OAuthServer:
        if self.flavour == Flavour.DATA_CENTER:
            return oauth.data_center_server(self.portal_url)
        return oauth.cloud_server()

    def jira_api_base(self) -> str:
        """Return the REST API root for this token's site, without a trailing slash."""
        if self.flavour == Flavour.DATA_CENTER:
            return f"{self.portal_url.rstrip('/')}/rest/api/2"
        gateway = settings.ATLASSIAN_API_URL.rstrip("/")
        return f"{gateway}/ex/jira/{quote(self.cloud_id, safe='')}/rest/api/3"

    def _secret_context(self, field: str) -> str:
        return f"tokens.accesstoken:{self.pk}:{field}"

    def has_secret(self, field: str) -> bool:
        return bool(getattr(self, f"{field}_encrypted"))

    def get_secret(self, field: str) -> str:
        """Return the decrypted secret, or "" when none is stored."""
        if field not in self.SECRET_FIELDS:
            raise ValueError(f"{field!r} is not a secret field of AccessToken.")
        stored = getattr(self, f"{field}_encrypted")
        if not stored:
            return ""
        return encryption.decrypt(stored, context=self._secret_context(field))

    def set_secret(self, field: str, value: str) -> None:
        if field not in self.SECRET_FIELDS:
            raise ValueError(f"{field!r} is not a secret field of AccessToken.")
        stored = encryption.encrypt(value, context=self._secret_context(field)) if value else ""
        setattr(self, f"{field}_encrypted", stored)

    def expires_within(self, seconds: int, *, now: datetime | None = None) -> bool:
        """Tell whether the access token is expired or expires within `seconds`.

        A token pasted by hand has no known expiry and counts as valid.
        """
        if self.access_token_expires_at is None:
            return False
        now = now or timezone.now()
        return self.access_token_expires_at <= now + timedelta(seconds=seconds)

    def compute_next_renewal(self, *, now: datetime) -> datetime | None:
        """Return when the token should next be renewed.

        The renewal rate sets the pace, but renewal never waits past the refresh
        margin before the access token expires, since Jira stops honouring it then.
        """
        if self.renewal_rate == RenewalRate.DISABLED or not self.has_secret(
            "refresh_token"
        ):
            return None
        due = now + timedelta(minutes=self.renewal_rate)
        if self.access_token_expires_at is not None:
            margin = timedelta(seconds=settings.JIRA_TOKEN_REFRESH_MARGIN)
            due = min(due, self.access_token_expires_at - margin)
        return max(due, now)

    def rate_keeps_alive(self, *, expires_in: int = ACCESS_TOKEN_LIFETIME) -> bool:
        """Tell whether the renewal rate alone renews before the refresh margin.

        A rate that does not is still safe, since renewal is pulled forward to the
        margin, but the administrator should know the token renews more often.
        """
        if self.renewal_rate == RenewalRate.DISABLED:
            return False
        limit = expires_in - settings.JIRA_TOKEN_REFRESH_MARGIN
        return self.renewal_rate * 60 <= limit

    def renewal_lease_held(self, *, now: datetime) -> bool:
        return self.renewal_lease_until is not None and self.renewal_lease_until > now

    def renewal_progress(self, *, now: datetime) -> str:
        """Return "running", "queued" or "idle" for the token's page."""
        if self.renewal_lease_held(now=now):
            return "running"
        if self.renewal_queued_at is not None:
            return "queued"
        return "idle"

    def rotation_may_be_lost(self, *, now: datetime) -> bool:
        """Tell whether an earlier refresh may have rotated the token unseen.

        True when a refresh request went out and no response was stored, and its
        renewer no longer holds the lease (it crashed, or its commit failed).
        """
        return self.renewal_started_at is not None and not self.renewal_lease_held(
            now=now
        )

    def reuse_interval_passed(self, *, now: datetime) -> bool:
        """Tell whether a possibly rotated refresh token is too old to present again.

        Jira Cloud honours a rotated refresh token for a reuse interval and treats
        a later use as theft, revoking the whole grant. Data Center documents no
        such interval and no such penalty, so its old token is always worth a try.
        """
        if self.renewal_started_at is None or self.flavour == Flavour.DATA_CENTER:
            return False
        safe = timedelta(seconds=REFRESH_TOKEN_REUSE_SECONDS - REUSE_SAFETY_SECONDS)
        return now >= self.renewal_started_at + safe


class AuditEvent(models.Model):
    """A record of a change, consent or renewal; never contains secret values."""

    class Action(models.TextChoices):
        TOKEN_CREATED = "token_created", "Token created"
        TOKEN_UPDATED = "token_updated", "Token updated"
        TOKEN_DELETED = "token_deleted", "Token deleted"
        CONSENT_STARTED = "consent_started", "Consent started"
        CONSENT_COMPLETED = "consent_completed", "Consent completed"
        CONSENT_FAILED = "consent_failed", "Consent failed"
        TOKEN_RENEWED = "token_renewed", "Token renewed"
        RENEWAL_FAILED = "renewal_failed", "Renewal failed"
        RENEWAL_REQUESTED = "renewal_requested", "Renewal requested"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(
        AccessToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_name = models.CharField(max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    class Result(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    action = models.CharField(max_length=30, choices=Action.choices)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.SUCCESS)
    api_key = models.ForeignKey(
        "tenants.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.token_name}"
