import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from tokens import encryption


def _key(key_id: str) -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def keys(settings):
    first, second = _key("k1"), _key("k2")
    settings.FIELD_ENCRYPTION_KEYS = [first]
    return settings, first, second


def test_encrypt_round_trips_and_hides_plaintext(keys):
    stored = encryption.encrypt("top-secret", context="row:1:field")

    assert "top-secret" not in stored
    assert stored.startswith("v1.k1.")
    assert encryption.decrypt(stored, context="row:1:field") == "top-secret"


def test_ciphertext_bound_to_its_context(keys):
    stored = encryption.encrypt("top-secret", context="row:1:field")

    with pytest.raises(encryption.DecryptionError) as excinfo:
        encryption.decrypt(stored, context="row:2:field")
    assert "copied from another row" in str(excinfo.value)
    assert "top-secret" not in str(excinfo.value)


def test_old_key_still_decrypts_after_rotation(keys):
    settings, first, second = keys
    stored = encryption.encrypt("top-secret", context="c")

    settings.FIELD_ENCRYPTION_KEYS = [second, first]

    assert encryption.decrypt(stored, context="c") == "top-secret"
    assert encryption.key_id_of(encryption.encrypt("x", context="c")) == "k2"


def test_missing_key_is_named(keys):
    settings, first, second = keys
    stored = encryption.encrypt("top-secret", context="c")
    settings.FIELD_ENCRYPTION_KEYS = [second]

    with pytest.raises(encryption.MissingKeyError) as excinfo:
        encryption.decrypt(stored, context="c")
    assert "'k1' is not in FIELD_ENCRYPTION_KEYS" in str(excinfo.value)


@pytest.mark.parametrize(
    "entry, message",
    [
        ("nokey", "must be key-id:base64-key"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "needs 32"),
        ("k.1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(), "no dot"),
    ],
)
def test_malformed_key_setting_rejected(settings, entry, message):
    settings.FIELD_ENCRYPTION_KEYS = [entry]

    with pytest.raises(ImproperlyConfigured) as excinfo:
        encryption.encrypt("x", context="c")
    assert message in str(excinfo.value)


def test_token_secret_copied_to_another_row_fails(db, tenant):
    from tests.factories import make_token

    first = make_token(tenant, consumer_secret="secret-one")
    second = make_token(tenant, consumer_secret="secret-two")

    second.consumer_secret_encrypted = first.consumer_secret_encrypted

    assert first.get_secret("consumer_secret") == "secret-one"
    with pytest.raises(encryption.DecryptionError):
        second.get_secret("consumer_secret")
