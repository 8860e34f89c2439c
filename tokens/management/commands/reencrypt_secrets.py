"""Re-encrypt every stored secret under the newest key of FIELD_ENCRYPTION_KEYS."""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Q

from tenants.audit import TenantAction, audit_record
from tokens import encryption
from tokens.models import AccessToken

SECRET_COLUMNS = [f"{field}_encrypted" for field in AccessToken.SECRET_FIELDS]


def newest_key_id() -> str:
    """Return the id of the key that encrypt() seals new values with."""
    return encryption.key_id_of(encryption.encrypt("", context="reencrypt"))


def stale_tokens(key_id: str):
    """Return the tokens with a secret sealed under another key than key_id."""
    stale = Q()
    for column in SECRET_COLUMNS:
        stale |= ~Q(**{column: ""}) & ~Q(**{f"{column}__startswith": f"v1.{key_id}."})
    return AccessToken.objects.filter(stale)


class Command(BaseCommand):
    help = (
        "Re-encrypt every token secret under the newest key of FIELD_ENCRYPTION_KEYS, "
        "in batches. Each token is committed on its own, so the command is safe to "
        "stop and run again while renewals go on; a token whose secrets cannot be "
        "decrypted is left as it is and reported with the missing key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=200,
            help="Tokens read per batch (default 200).",
        )

    def handle(self, *args: object, batch_size: int, **options: object) -> None:
        if batch_size < 1:
            self.stderr.write(f"--batch-size {batch_size} must be at least 1.")
            raise SystemExit(2)
        key_id = newest_key_id()
        total = stale_tokens(key_id).count()
        self.stdout.write(f"{total} tokens have secrets under older keys than {key_id!r}.")

        started = time.monotonic()
        done: Counter[object] = Counter()
        failed: dict[object, str] = {}
        last_pk = None
        while True:
            batch = stale_tokens(key_id).order_by("pk")
            if last_pk is not None:
                batch = batch.filter(pk__gt=last_pk)
            ids = list(batch.values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            for token_id in ids:
                try:
                    tenant_id = self._reencrypt(token_id, key_id)
                except encryption.DecryptionError as exc:
                    failed[token_id] = str(exc)
                    continue
                if tenant_id is not None:
                    done[tenant_id] += 1
            last_pk = ids[-1]
            self.stdout.write(
                f"Re-encrypted {sum(done.values())} of {total} tokens, "
                f"{len(failed)} cannot be decrypted ({time.monotonic() - started:.1f} s)."
            )

        for tenant_id, count in done.items():
            audit_record(
                tenant_id=tenant_id,
                action=TenantAction.SECRETS_REENCRYPTED,
                subject="Encryption keys",
                detail=f"{count} tokens re-encrypted under key {key_id}.",
            )
        for token_id, reason in failed.items():
            self.stderr.write(f"Token {token_id} was left as it is: {reason}")
        self.stdout.write(
            f"Done: {sum(done.values())} tokens re-encrypted under {key_id!r}, "
            f"{len(failed)} left as they are."
        )

    def _reencrypt(self, token_id: object, key_id: str) -> object | None:
        """Re-encrypt one token's stale secrets; return its tenant id if it changed.

        The row lock makes a renewal that stores a new pair wait, and the row is
        read again under it, so a pair stored meanwhile is never overwritten.
        Every secret is decrypted before any is written, so a token with one
        unreadable secret keeps all of them as they were.
        """
        with transaction.atomic():
            token = (
                AccessToken.objects.select_for_update(no_key=True)
                .filter(pk=token_id)
                .first()
            )
            if token is None:
                return None
            plain = {}
            for field in AccessToken.SECRET_FIELDS:
                stored = getattr(token, f"{field}_encrypted")
                if stored and encryption.key_id_of(stored) != key_id:
                    plain[field] = token.get_secret(field)
            if not plain:
                return None
            for field, value in plain.items():
                token.set_secret(field, value)
            # update() leaves updated_at and every other column as they are.
            AccessToken.objects.filter(pk=token.pk).update(
                **{f"{field}_encrypted": getattr(token, f"{field}_encrypted") for field in plain}
            )
        return token.tenant_id
