import uuid

from django.conf import settings
from django.db import models


class Tenant(models.Model):
    """An organisation: every other row of the product belongs to exactly one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one tenant."""

    class Role(models.TextChoices):
        ADMINISTRATOR = "administrator", "Administrator"
        APP_DESIGNER = "app_designer", "App designer"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user"], name="membership_unique_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.get_role_display()})"

    @property
    def is_administrator(self) -> bool:
        return self.role == self.Role.ADMINISTRATOR

    def designs(self, application: "Application") -> bool:
        """Tell whether this member may manage the application's tokens and choice.

        Administrators manage every application; app designers only those that list
        them as designers.
        """
        if application.tenant_id != self.tenant_id:
            return False
        if self.is_administrator:
            return True
        return application.designers.filter(pk=self.user_id).exists()

    def may_read(self, obj: models.Model) -> bool:
        """Tell whether this member may see a row of the tenant.

        Administrators see everything. App designers see the tenant-wide rows and
        the rows of the applications they design; another application's rows are
        hidden from them as if they did not exist.
        """
        if self.is_administrator:
            return True
        if isinstance(obj, Application):
            return self.designs(obj)
        application = getattr(obj, "application", None)
        return application is None or self.designs(application)

    def may_write(self, obj: models.Model) -> bool:
        """Tell whether this member may change or delete a row of the tenant.

        Administrators change everything. App designers change only rows that belong
        to an application they design, such as its application-level tokens.
        """
        if self.is_administrator:
            return True
        application = getattr(obj, "application", None)
        return isinstance(application, Application) and self.designs(application)


class Application(models.Model):
    """An app of the tenant that runs Jira activities through a chosen token.

    Its application-level tokens serve only this application: every process of a
    process-based app shares them, and a form-based app keeps them to itself. The
    chosen token is one of those or a global token of the tenant.
    """

    class Kind(models.TextChoices):
        PROCESS = "process", "Process-based"
        FORM = "form", "Form-based"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="applications"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    designers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="designed_applications"
    )
    token = models.ForeignKey(
        "tokens.AccessToken",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chosen_by",
        help_text="The access token this application runs its Jira activities with.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "tenant", models.functions.Lower("name"), name="application_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def may_use_token(self, token: models.Model) -> bool:
        """Tell whether the token is this application's own or a global one."""
        return token.tenant_id == self.tenant_id and token.application_id in (
            None,
            self.pk,
        )


class ApiKey(models.Model):
    """A credential for services calling the REST API.

    A key without an application may use the tenant's global tokens; a key of an
    application may also use that application's tokens.

    Only a SHA-256 digest of the key is stored: keys are 256-bit random values, so
    a fast digest is enough and a slow password hash would cost every API call. The
    prefix finds the row without scanning.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_keys",
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
