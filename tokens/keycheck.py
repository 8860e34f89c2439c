"""Check that the configured encryption keys open the secrets already stored."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tokens import encryption
from tokens.models import AccessToken


def stored_secrets_problem() -> str:
    """Return why the stored secrets cannot be read, or "" when they can.

    Every key id found in the stored values must be configured, and one stored
    value per configured key must open, so that a key with the right id but the
    wrong bytes is caught too.
    """
    try:
        # Sealing a probe parses every configured key and rejects malformed ones.
        encryption.encrypt("probe", context="keycheck")
    except ImproperlyConfigured as exc:
        return str(exc)
    configured = [entry.partition(":")[0] for entry in settings.FIELD_ENCRYPTION_KEYS]

    for field in AccessToken.SECRET_FIELDS:
        column = f"{field}_encrypted"
        rows = AccessToken.objects.exclude(**{column: ""})
        for key_id in configured:
            rows = rows.exclude(**{f"{column}__startswith": f"v1.{key_id}."})
        unknown = rows.values_list(column, flat=True).first()
        if unknown is not None:
            return (
                f"encryption key {encryption.key_id_of(unknown)!r} is not in "
                "FIELD_ENCRYPTION_KEYS, but stored secrets were sealed with it: "
                "add it back."
            )

        for key_id in configured:
            sample = (
                AccessToken.objects.filter(**{f"{column}__startswith": f"v1.{key_id}."})
                .only("pk", column)
                .first()
            )
            if sample is None:
                continue
            try:
                sample.get_secret(field)
            except encryption.DecryptionError:
                return (
                    f"encryption key {key_id!r} in FIELD_ENCRYPTION_KEYS does not "
                    f"open the stored secrets sealed under that id (for example the "
                    f"{field} of token {sample.pk}): restore the original key."
                )
    return ""
