"""Key rotation: the re-encrypt command against PostgreSQL, with renewals running."""

import base64
import io
import os
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tests import factories
from tests.consent import connect
from tokens import encryption, services
from tokens.models import AccessToken

CALLBACK = "http://testserver/tokens/oauth/callback/"
RENEWAL_SECONDS = 20
RENEWAL_ROUNDS = 6


def _key(key_id: str) -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


def _key_ids(token: AccessToken) -> set[str]:
    return {
        encryption.key_id_of(getattr(token, f"{field}_encrypted"))
        for field in AccessToken.SECRET_FIELDS
        if token.has_secret(field)
    }


def _reencrypt(**options) -> str:
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out, stderr=out, **options)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_rotation_under_renewals_keeps_every_token(
    tenant, owner_client, sandbox_control, sandbox_settings
):
    # Given tokens written under key 1: connected ones and pasted ones
    key1, key2 = _key("k1"), _key("k2")
    sandbox_settings.FIELD_ENCRYPTION_KEYS = [key1]
    connected = []
    for _ in range(3):
        client = sandbox_control.register_client(name="Rotation", redirect_uris=[CALLBACK])
        token = factories.make_token(
            tenant,
            consumer_key=client["client_id"],
            consumer_secret=client["client_secret"],
            callback_url=CALLBACK,
        )
        connect(owner_client, token)
        connected.append(token.pk)
    pasted = {
        factories.make_token(tenant, access_token=f"pasted-{n}").pk: f"pasted-{n}"
        for n in range(40)
    }
    assert {
        key_id for token in AccessToken.objects.all() for key_id in _key_ids(token)
    } == {"k1"}

    # When key 2 becomes the newest and the command runs while tokens renew
    sandbox_settings.FIELD_ENCRYPTION_KEYS = [key2, key1]
    renewed, errors = [], []

    def renew() -> None:
        deadline = time.monotonic() + RENEWAL_SECONDS
        try:
            for _ in range(RENEWAL_ROUNDS):
                for token_id in connected:
                    if time.monotonic() > deadline:
                        return
                    services.token_renew(token_id=token_id)
                    renewed.append(token_id)
        except Exception as exc:  # reported by the assert below
            errors.append(repr(exc))
        finally:
            connection.close()

    renewer = threading.Thread(target=renew)
    renewer.start()
    output = _reencrypt(batch_size=7)
    renewer.join(RENEWAL_SECONDS + 10)

    # Then, with key 1 removed, every token decrypts and none was lost
    sandbox_settings.FIELD_ENCRYPTION_KEYS = [key2]
    assert errors == []
    assert len(renewed) == RENEWAL_ROUNDS * len(connected)
    assert "Re-encrypted 7 of" in output
    assert AccessToken.objects.count() == len(connected) + len(pasted)
    for token in AccessToken.objects.all():
        assert _key_ids(token) == {"k2"}, token.name
        for field in AccessToken.SECRET_FIELDS:
            token.get_secret(field)
    for token_id, value in pasted.items():
        assert AccessToken.objects.get(pk=token_id).get_secret("access_token") == value
    for token_id in connected:
        assert services.token_renew(token_id=token_id).status == "connected"


@pytest.mark.django_db
def test_second_run_finds_nothing_to_do(tenant, settings):
    settings.FIELD_ENCRYPTION_KEYS = [_key("k1")]
    factories.make_token(tenant)
    settings.FIELD_ENCRYPTION_KEYS = [_key("k2"), *settings.FIELD_ENCRYPTION_KEYS]
    _reencrypt()

    output = _reencrypt()

    assert "0 tokens have secrets under older keys" in output


@pytest.mark.django_db
def test_command_leaves_undecryptable_token_and_names_key(tenant, settings):
    # Given a token under a key that is no longer configured
    settings.FIELD_ENCRYPTION_KEYS = [_key("gone")]
    token = factories.make_token(tenant, consumer_secret="kept-as-is")
    stored = AccessToken.objects.get(pk=token.pk).consumer_secret_encrypted
    settings.FIELD_ENCRYPTION_KEYS = [_key("k2")]

    # When the command runs
    output = _reencrypt()

    # Then the token is reported with the missing key and left as it was
    assert f"Token {token.pk} was left as it is" in output
    assert "'gone' is not in FIELD_ENCRYPTION_KEYS" in output
    assert AccessToken.objects.get(pk=token.pk).consumer_secret_encrypted == stored


@pytest.mark.django_db
def test_ciphertext_copied_to_another_row_fails_to_decrypt(tenant, outsider):
    token = factories.make_token(tenant, consumer_secret="only-for-this-row")
    other_tenant = outsider.memberships.get().tenant
    other = factories.make_token(other_tenant, consumer_secret="other")

    AccessToken.objects.filter(pk=other.pk).update(
        consumer_secret_encrypted=token.consumer_secret_encrypted
    )
    other.refresh_from_db()

    with pytest.raises(encryption.DecryptionError, match="copied from another row"):
        other.get_secret("consumer_secret")


@pytest.mark.django_db
def test_undecryptable_token_lists_shows_key_and_deletes(tenant, owner_client, settings):
    # Given a token whose key was removed
    settings.FIELD_ENCRYPTION_KEYS = [_key("old")]
    token = factories.make_token(tenant, name="Lost Key")
    settings.FIELD_ENCRYPTION_KEYS = [_key("new")]

    # When an administrator lists, opens and deletes it
    listed = owner_client.get(reverse("tokens:list"))
    opened = owner_client.get(reverse("tokens:edit", args=[token.pk]))
    deleted = owner_client.post(reverse("tokens:delete", args=[token.pk]))

    # Then each works, and the token's page names the missing key
    assert listed.status_code == 200
    assert "Lost Key" in listed.content.decode()
    assert opened.status_code == 200
    assert "Encryption key &#x27;old&#x27; is not in FIELD_ENCRYPTION_KEYS" in (
        opened.content.decode()
    )
    assert deleted.status_code == 302
    assert not AccessToken.objects.filter(pk=token.pk).exists()
