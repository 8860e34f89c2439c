import secrets

import requests
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from tenants.models import ApiKey, Tenant
from tenants.services import api_key_create, tenant_create, user_create
from tokens.models import AccessToken
from tokens.services import TokenFields, token_create, token_reset_client

DEMO_TENANT = "Demo Tenant"
DEMO_EMAIL = "admin@demo.example"
DEMO_TOKEN = "Demo Jira"
DEMO_PORTAL = "https://demo.atlassian.net"
DEMO_CLIENT_ID = "manage-center-demo"


class Command(BaseCommand):
    help = (
        "Create the demo tenant, its administrator, an API key and a Jira token, and "
        "register the token's OAuth client in the Jira sandbox."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--sandbox-url", required=True, help="Base URL of the Jira sandbox.")
        parser.add_argument("--site-url", required=True, help="Base URL of this site.")
        parser.add_argument("--password", default="demo-admin-pass")

    def handle(self, *args, **options) -> None:
        callback_url = options["site_url"].rstrip("/") + reverse("tokens:callback")
        client_secret = secrets.token_urlsafe(24)
        try:
            response = requests.post(
                options["sandbox_url"].rstrip("/") + "/_sandbox/clients",
                json={
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": client_secret,
                    "name": "Manage Center (demo)",
                    "redirect_uris": [callback_url],
                },
                timeout=10,
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise CommandError(f"The Jira sandbox did not register the client: {exc}")

        with transaction.atomic():
            tenant = self._tenant(options["password"])
            self._token(tenant, callback_url, client_secret)
            ApiKey.objects.filter(tenant=tenant, name="Demo service").delete()
            _, key = api_key_create(tenant=tenant, name="Demo service")

        self.stdout.write(f"DEMO_EMAIL={DEMO_EMAIL}")
        self.stdout.write(f"DEMO_PASSWORD={options['password']}")
        self.stdout.write(f"DEMO_API_KEY={key}")
        token = AccessToken.objects.get(tenant=tenant, name=DEMO_TOKEN)
        self.stdout.write(f"DEMO_TOKEN_ID={token.pk}")

    def _tenant(self, password: str) -> Tenant:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = user_create(email=DEMO_EMAIL, password=password)
        tenant = Tenant.objects.filter(name=DEMO_TENANT, members__user=user).first()
        return tenant or tenant_create(name=DEMO_TENANT, administrator=user)

    def _token(self, tenant: Tenant, callback_url: str, client_secret: str) -> None:
        token = AccessToken.objects.filter(
            tenant=tenant, application=None, name=DEMO_TOKEN
        ).first()
        if token is None:
            token_create(
                tenant=tenant,
                application=None,
                fields=TokenFields(
                    name=DEMO_TOKEN,
                    portal_url=DEMO_PORTAL,
                    consumer_key=DEMO_CLIENT_ID,
                    consumer_secret=client_secret,
                    callback_url=callback_url,
                    description="Connects the demo tenant to the Jira sandbox.",
                    renewal_rate=60,
                ),
            )
            return
        # The sandbox keeps its state in memory, so grants from an earlier run are
        # gone: the demo token starts disconnected, with the new client secret.
        token_reset_client(
            token=token, consumer_secret=client_secret, callback_url=callback_url
        )
