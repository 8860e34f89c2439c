"""Create a tenant, an API key and a connected Cloud token in the benchmark database.

Run by run.py with the benchmark's environment. It prints TOKEN_ID and API_KEY for
the load generator; the API key exists only in the throw-away benchmark database.
"""

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import django
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from tenants.services import api_key_create, tenant_create, user_create  # noqa: E402
from tests.html_forms import parse_forms  # noqa: E402
from tokens import oauth  # noqa: E402
from tokens.services import TokenFields, token_consent_complete, token_create  # noqa: E402

CALLBACK = "http://127.0.0.1/tokens/oauth/callback/"


def consent_code(sandbox_url: str, client_id: str) -> str:
    """Accept the sandbox's consent page and return the authorization code."""
    url = oauth.authorize_url(
        oauth.cloud_server(), client_id=client_id, redirect_uri=CALLBACK, state="bench"
    )
    page = requests.get(url, timeout=10)
    form = parse_forms(page.text)[0]
    answer = requests.post(
        urljoin(url, form.action),
        data={**form.fields, "decision": "accept"},
        allow_redirects=False,
        timeout=10,
    )
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def main() -> None:
    sandbox_url = os.environ["ATLASSIAN_AUTH_URL"]
    client = requests.post(
        f"{sandbox_url}/_sandbox/clients",
        json={"name": "Benchmark", "redirect_uris": [CALLBACK]},
        timeout=10,
    ).json()

    user = user_create(email="bench@example.test", password="bench-password-1")
    tenant = tenant_create(name="Benchmark", administrator=user)
    token = token_create(
        tenant=tenant,
        application=None,
        fields=TokenFields(
            name="Benchmark",
            portal_url="https://demo.atlassian.net",
            consumer_key=client["client_id"],
            consumer_secret=client["client_secret"],
            callback_url=CALLBACK,
            description="",
            renewal_rate=60,
        ),
    )
    token_consent_complete(token=token, code=consent_code(sandbox_url, client["client_id"]))
    _, key = api_key_create(tenant=tenant, name="Benchmark")

    print(f"TOKEN_ID={token.pk}")
    print(f"API_KEY={key}")
    print(f"CLIENT_ID={client['client_id']}")
    print(f"CLIENT_SECRET={client['client_secret']}")


if __name__ == "__main__":
    main()
