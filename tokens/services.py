"""Writes to access tokens: each function owns its transaction and audit event."""

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tenants.models import Application, Tenant
from tokens import oauth
from tokens.models import (
    REFRESH_TOKEN_REUSE_SECONDS,
    REUSE_SAFETY_SECONDS,
    AccessToken,
    AuditEvent,
    Flavour,
    RenewalRate,
    TokenStatus,
)
from tokens.selectors import tokens_due_for_renewal

logger = logging.getLogger(__name__)

# How often a caller that needs a fresh token looks whether another renewer has
# stored one.
_WAIT_FOR_RENEWAL_SECONDS = 0.05


class ConsentError(Exception):
    """A consent could not be completed; nothing stored was changed."""


class RenewalError(Exception):
    """A token could not be renewed; its status and last error give the reason."""


def _audit(
    *,
    token: AccessToken,
    action: str,
    actor: AbstractBaseUser | None = None,
    detail: str = "",
    result: str = AuditEvent.Result.SUCCESS,
) -> None:
    AuditEvent.objects.create(
        result=result,
        tenant_id=token.tenant_id,
        token=token if token.pk and not token._state.adding else None,
        token_name=token.name,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        detail=detail,
    )


def _disconnect(token: AccessToken) -> None:
    token.set_secret("access_token", "")
    token.set_secret("refresh_token", "")
    token.access_token_expires_at = None
    token.scopes = ""
    token.cloud_id = ""
    token.site_url = ""
    token.status = TokenStatus.NOT_CONNECTED
    token.connected_at = None
    token.next_renewal_at = None
    # A renewal still in flight for the old grant must not store its response.
    token.version += 1
    token.renewal_queued_at = None
    token.renewal_started_at = None
    token.renewal_lease_until = None
    token.renewal_failures = 0


def _store_pasted_access_token(
    token: AccessToken, access_token: str, site: oauth.Site | None = None
) -> None:
    """Store an access token pasted by hand; its expiry is unknown, its site may be."""
    _disconnect(token)
    token.set_secret("access_token", access_token)
    token.status = TokenStatus.CONNECTED
    token.connected_at = timezone.now()
    if site is not None:
        token.cloud_id = site["id"]
        token.site_url = site["url"]
        token.scopes = " ".join(site["scopes"])


class PastedTokenError(Exception):
    """Jira does not accept a pasted access token for the token's site."""


def pasted_access_token_check(*, fields: "TokenFields") -> oauth.Site | None:
    """Ask Jira whether the pasted access token in fields reaches the portal.

    Returns the Jira Cloud site it reaches, or None on Data Center, which has one
    site per portal. Raises PastedTokenError with the reason otherwise, so that
    nothing is stored for a token that no Jira call could use.
    """
    try:
        if fields.flavour == Flavour.DATA_CENTER:
            oauth.data_center_check_access_token(fields.portal_url, fields.access_token)
            return None
        sites = oauth.accessible_resources(fields.access_token)
    except oauth.TemporaryOAuthError as exc:
        raise PastedTokenError(
            f"{exc} Nothing was saved: save again when Jira can be reached."
        ) from None
    except oauth.OAuthError as exc:
        raise PastedTokenError(
            f"{exc} Nothing was saved: paste a current access token, or clear the "
            "field and use Get OAuth 2.0 Access Token."
        ) from None
    try:
        return _match_site(AccessToken(portal_url=fields.portal_url), sites)
    except ConsentError:
        reached = ", ".join(site["url"] for site in sites) or "no site"
        raise PastedTokenError(
            f"This access token reaches {reached}, not {fields.portal_url}. Nothing "
            "was saved: paste a token for that site, or correct the Jira Portal URL."
        ) from None


@dataclass
class TokenFields:
    """The values of the configuration screen; None secrets keep what is stored."""

    name: str
    portal_url: str
    consumer_key: str
    callback_url: str
    description: str
    renewal_rate: int
    consumer_secret: str | None = None
    access_token: str | None = None
    flavour: str = Flavour.CLOUD

    def __repr__(self) -> str:
        return f"TokenFields(name={self.name!r}, portal_url={self.portal_url!r})"


def token_create(
    *,
    tenant: Tenant,
    application: Application | None,
    fields: TokenFields,
    actor: AbstractBaseUser | None = None,
    pasted_site: oauth.Site | None = None,
) -> AccessToken:
    """Create a token; pasted_site is the Cloud site its pasted access token reaches."""
    token = AccessToken(
        tenant=tenant,
        application=application,
        name=fields.name,
        flavour=fields.flavour,
        portal_url=fields.portal_url,
        consumer_key=fields.consumer_key,
        callback_url=fields.callback_url,
        description=fields.description,
        renewal_rate=fields.renewal_rate,
    )
    token.set_secret("consumer_secret", fields.consumer_secret or "")
    if fields.access_token:
        _store_pasted_access_token(token, fields.access_token, pasted_site)

    with transaction.atomic():
        token.save()
        _audit(token=token, action=AuditEvent.Action.TOKEN_CREATED, actor=actor)
    return token


def token_update(
    *,
    token: AccessToken,
    fields: TokenFields,
    actor: AbstractBaseUser | None = None,
    pasted_site: oauth.Site | None = None,
) -> AccessToken:
    """Apply the configuration screen's values to a token.

    A new portal URL, flavour or consumer key disconnects the token: its grant belongs to the
    old site and app, and no token may be sent to a new host before a new consent.
    pasted_site is the Cloud site that a pasted access token reaches.
    """
    with transaction.atomic():
        token = AccessToken.objects.select_for_update().get(pk=token.pk)
        changed = [
            name
            for name in ("name", "flavour", "portal_url", "consumer_key",
                         "callback_url", "description", "renewal_rate")
            if getattr(token, name) != getattr(fields, name)
        ]
        reconnect = (
            token.portal_url != fields.portal_url
            or token.flavour != fields.flavour
            or token.consumer_key != fields.consumer_key
        )

        token.name = fields.name
        token.flavour = fields.flavour
        token.portal_url = fields.portal_url
        token.consumer_key = fields.consumer_key
        token.callback_url = fields.callback_url
        token.description = fields.description
        token.renewal_rate = fields.renewal_rate
        if reconnect:
            _disconnect(token)
        if fields.consumer_secret:
            token.set_secret("consumer_secret", fields.consumer_secret)
            changed.append("consumer_secret")
        if fields.access_token:
            _store_pasted_access_token(token, fields.access_token, pasted_site)
            changed.append("access_token")
        # A new rate takes effect at once, also for a token whose renewal is failing.
        if token.status == TokenStatus.CONNECTED or (
            token.status == TokenStatus.RENEWAL_FAILING and "renewal_rate" in changed
        ):
            token.next_renewal_at = token.compute_next_renewal(now=timezone.now())

        token.save()
        # Saving an unchanged form, as "Get OAuth 2.0 Access Token" does, is no
        # change worth a history row.
        if changed:
            _audit(
                token=token,
                action=AuditEvent.Action.TOKEN_UPDATED,
                actor=actor,
                detail="Changed: " + ", ".join(changed),
            )
    return token


def token_delete(*, token: AccessToken, actor: AbstractBaseUser | None = None) -> None:
    with transaction.atomic():
        _audit(token=token, action=AuditEvent.Action.TOKEN_DELETED, actor=actor)
        token.delete()


def _store_grant(token: AccessToken, grant: oauth.TokenGrant) -> None:
    """Store a new token pair; a new version makes older renewals' responses stale."""
    now = timezone.now()
    token.set_secret("access_token", grant.access_token)
    token.set_secret("refresh_token", grant.refresh_token)
    token.access_token_expires_at = grant.expires_at
    token.scopes = grant.scopes
    token.status = TokenStatus.CONNECTED
    token.last_error = ""
    token.last_renewed_at = now
    token.next_renewal_at = token.compute_next_renewal(now=now)
    token.version += 1
    token.renewal_started_at = None
    token.renewal_lease_until = None
    token.renewal_failures = 0


def _match_site(token: AccessToken, sites: list[oauth.Site]) -> oauth.Site:
    from urllib.parse import urlsplit

    for site in sites:
        if (urlsplit(site["url"]).hostname or "").lower() == token.portal_host:
            return site
    granted = ", ".join(site["url"] for site in sites) or "no site"
    raise ConsentError(
        f"Jira granted access to {granted}, not to {token.portal_url}. Choose that "
        "site on Jira's consent page, or correct the Jira Portal URL."
    )


def token_consent_complete(
    *,
    token: AccessToken,
    code: str,
    code_verifier: str | None = None,
    actor: AbstractBaseUser | None = None,
) -> AccessToken:
    """Exchange a consent's authorization code and store the connection.

    1. Exchange the code at the token endpoint.
    2. On Jira Cloud, find the site whose host matches the token's portal URL;
       a Data Center token's site is its portal URL.
    3. Store the tokens, expiry, scopes and cloud id in one transaction.
    Any failure raises ConsentError and leaves the stored token as it was.
    """
    try:
        grant = oauth.exchange_code(
            token.oauth_server(),
            client_id=token.consumer_key,
            client_secret=token.get_secret("consumer_secret"),
            code=code,
            redirect_uri=token.callback_url,
            code_verifier=code_verifier,
        )
        if token.flavour == Flavour.CLOUD:
            site = _match_site(token, oauth.accessible_resources(grant.access_token))
        else:
            site = oauth.Site(id="", name="", url=token.portal_url, scopes=[])
    except (oauth.OAuthError, ConsentError) as exc:
        _audit(
            token=token, action=AuditEvent.Action.CONSENT_FAILED, actor=actor,
            detail=str(exc), result=AuditEvent.Result.FAILURE,
        )
        raise ConsentError(str(exc)) from None

    with transaction.atomic():
        token = AccessToken.objects.select_for_update().get(pk=token.pk)
        _store_grant(token, grant)
        token.cloud_id = site["id"]
        token.site_url = site["url"]
        token.connected_at = timezone.now()
        token.save()
        _audit(
            token=token,
            action=AuditEvent.Action.CONSENT_COMPLETED,
            actor=actor,
            detail=f"Connected to {site['url']} with scopes: {grant.scopes}",
        )
    logger.info("Token connected", extra={"token_id": str(token.pk)})
    return token


class RenewalBusyError(RenewalError):
    """Another renewer holds the token's lease and is refreshing it right now."""


def _lease_seconds() -> int:
    # The lease must outlast a token request, or a second renewer could start
    # while the first one's response is still on its way.
    return max(settings.TOKEN_RENEWAL_LEASE_SECONDS, settings.JIRA_HTTP_TIMEOUT + 2)


def _backoff(*, failures: int) -> timedelta:
    """Return the wait before retry number `failures`, with full jitter on half."""
    base = settings.TOKEN_RENEWAL_BACKOFF_SECONDS
    ceiling = min(
        settings.TOKEN_RENEWAL_BACKOFF_MAX_SECONDS, base * 2 ** (failures - 1)
    )
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))


@dataclass
class _RenewalClaim:
    """What a renewer read under the row lock and needs for the token request."""

    version: int
    recovering: bool
    server: oauth.OAuthServer
    client_id: str
    client_secret: str
    refresh_token: str
    redirect_uri: str

    def __repr__(self) -> str:
        return f"_RenewalClaim(version={self.version}, recovering={self.recovering})"


def _renewal_fields() -> list[str]:
    return [
        "status", "last_error", "next_renewal_at", "renewal_queued_at",
        "renewal_started_at", "renewal_lease_until", "renewal_failures", "updated_at",
    ]


def _claim_renewal(
    *, token_id: object, only_if_expiring: bool, only_if_queued: bool
) -> AccessToken | _RenewalClaim:
    """Lock the token, decide whether to refresh it, and commit the lease.

    Returns the token as stored when there is nothing to do, or the claim.
    """
    now = timezone.now()
    with transaction.atomic():
        token = AccessToken.objects.select_for_update(no_key=True).get(pk=token_id)
        renewable = token.status in (TokenStatus.CONNECTED, TokenStatus.RENEWAL_FAILING)
        if only_if_queued and (token.renewal_queued_at is None or not renewable):
            if token.renewal_queued_at is not None:
                token.renewal_queued_at = None
                token.save(update_fields=["renewal_queued_at", "updated_at"])
            return token
        if only_if_expiring and not token.expires_within(
            settings.JIRA_TOKEN_REFRESH_MARGIN, now=now
        ):
            return token
        if token.renewal_lease_held(now=now):
            raise RenewalBusyError(f"Token {token.pk} is being renewed.")
        if not token.has_secret("refresh_token"):
            raise RenewalError(
                f"Token {token.name!r} has no refresh token: get a new OAuth 2.0 "
                "access token."
            )

        recovering = token.rotation_may_be_lost(now=now)
        if recovering and token.reuse_interval_passed(now=now):
            # Presenting the old refresh token now would count as theft at Jira
            # and revoke the grant; the stored secrets stay for the record.
            token.status = TokenStatus.CONSENT_NEEDED
            token.last_error = (
                "A renewal started at "
                f"{token.renewal_started_at:%Y-%m-%d %H:%M:%S %Z} may have rotated "
                "the refresh token without the new one being stored, and Jira's "
                "reuse interval for the previous one has passed: get a new OAuth "
                "2.0 access token to reconnect."
            )
            token.next_renewal_at = None
            token.renewal_queued_at = None
            token.renewal_started_at = None
            token.renewal_lease_until = None
            token.save(update_fields=_renewal_fields())
            _audit(
                token=token, action=AuditEvent.Action.RENEWAL_FAILED,
                detail=token.last_error, result=AuditEvent.Result.FAILURE,
            )
            failure: RenewalError | None = RenewalError(token.last_error)
        else:
            failure = None
            # A recovery keeps the first start time: the reuse interval counts
            # from the rotation that request may have caused.
            if not recovering:
                token.renewal_started_at = now
            token.renewal_lease_until = now + timedelta(seconds=_lease_seconds())
            token.save(
                update_fields=[
                    "renewal_started_at", "renewal_lease_until", "updated_at"
                ]
            )
            claim = _RenewalClaim(
                version=token.version,
                recovering=recovering,
                server=token.oauth_server(),
                client_id=token.consumer_key,
                client_secret=token.get_secret("consumer_secret"),
                refresh_token=token.get_secret("refresh_token"),
                redirect_uri=token.callback_url,
            )
    if failure is not None:
        logger.warning(
            "Token renewal gave up on a possibly rotated refresh token",
            extra={"token_id": str(token_id)},
        )
        raise failure
    return claim


def _store_renewal(
    *, token_id: object, claim: _RenewalClaim, grant: oauth.TokenGrant | None,
    error: oauth.OAuthError | None,
) -> tuple[AccessToken, RenewalError | None]:
    """Lock the token again and store the refresh's outcome in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        token = AccessToken.objects.select_for_update(no_key=True).get(pk=token_id)
        if token.version != claim.version:
            # A renewer that took over after this one's lease ran out stored a
            # pair first; it is as valid as this response, and storing this one
            # would overwrite the newer row.
            _audit(
                token=token, action=AuditEvent.Action.TOKEN_RENEWED,
                detail="A slower renewal's response was dropped: a newer token is "
                "already stored.",
            )
            logger.warning(
                "Token renewal response dropped for a newer stored version",
                extra={"token_id": str(token.pk)},
            )
            return token, None

        token.renewal_lease_until = None
        token.renewal_queued_at = None
        if grant is not None:
            _store_grant(token, grant)
            token.save()
            detail = f"Access token expires at {grant.expires_at:%Y-%m-%d %H:%M:%S %Z}."
            if claim.recovering:
                detail = (
                    "Recovered a renewal whose response was never stored, with the "
                    f"refresh token Jira still honours. {detail}"
                )
            _audit(token=token, action=AuditEvent.Action.TOKEN_RENEWED, detail=detail)
            return token, None

        assert error is not None
        token.last_error = str(error)
        if isinstance(error, (oauth.InvalidGrantError, oauth.InvalidClientError)):
            token.status = TokenStatus.CONSENT_NEEDED
            token.next_renewal_at = None
            token.renewal_started_at = None
            token.renewal_failures = 0
        else:
            token.status = TokenStatus.RENEWAL_FAILING
            token.renewal_failures += 1
            due = now + _backoff(failures=token.renewal_failures)
            # Retrying before a 429's Retry-After only earns a longer wait.
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                due = max(due, now + timedelta(seconds=retry_after))
            # A response, even an error, means Jira did not rotate the token. No
            # response (a timeout) may hide a rotation, which must be recovered
            # within the reuse interval.
            if error.status is not None or error.error:
                token.renewal_started_at = None
            elif token.renewal_started_at is not None:
                window = timedelta(
                    seconds=REFRESH_TOKEN_REUSE_SECONDS - 2 * REUSE_SAFETY_SECONDS
                )
                due = max(now, min(due, token.renewal_started_at + window))
            token.next_renewal_at = due
        token.save(update_fields=_renewal_fields())
        _audit(
            token=token, action=AuditEvent.Action.RENEWAL_FAILED,
            detail=token.last_error, result=AuditEvent.Result.FAILURE,
        )
    return token, RenewalError(token.last_error)


def token_renew(
    *, token_id: object, only_if_expiring: bool = False, only_if_queued: bool = False
) -> AccessToken:
    """Refresh a token's access token and store the rotated pair.

    1. Claim: lock the row, read it again, and commit a short lease together
       with the time the refresh request goes out (renewal_started_at).
    2. Refresh at the token endpoint, holding no transaction open.
    3. Store: lock the row again and, if its version is unchanged, store the new
       access token, refresh token, expiry and next renewal time together.

    A crash or a failed commit between 2 and 3 leaves renewal_started_at set. The
    next attempt presents the same refresh token again, which Jira Cloud honours
    for its reuse interval, and marks the token "consent needed" once that
    interval has passed. Nothing is erased.

    With only_if_expiring, a token that is not near expiry is returned as it is;
    with only_if_queued, so is a token whose queued renewal another renewer did.
    Raises RenewalBusyError while another renewer holds the lease, and
    RenewalError when the refresh failed; the token's status says which kind.
    """
    started = time.monotonic()
    claim = _claim_renewal(
        token_id=token_id,
        only_if_expiring=only_if_expiring,
        only_if_queued=only_if_queued,
    )
    if isinstance(claim, AccessToken):
        return claim

    grant: oauth.TokenGrant | None = None
    error: oauth.OAuthError | None = None
    try:
        grant = oauth.refresh(
            claim.server,
            client_id=claim.client_id,
            client_secret=claim.client_secret,
            refresh_token=claim.refresh_token,
            redirect_uri=claim.redirect_uri,
        )
    except oauth.OAuthError as exc:
        error = exc

    token, failure = _store_renewal(
        token_id=token_id, claim=claim, grant=grant, error=error
    )
    if failure is not None:
        logger.warning(
            "Token renewal failed: %s",
            token.last_error,
            extra={"token_id": str(token.pk)},
        )
        raise failure
    logger.info(
        "Token renewed in %.0f ms", (time.monotonic() - started) * 1000,
        extra={"token_id": str(token.pk)},
    )
    return token


def token_renewal_request(
    *, token: AccessToken, actor: AbstractBaseUser | None = None
) -> AccessToken:
    """Queue a renewal of the token now, as its page's "Renew now" button does."""
    from tokens.tasks import renew_token_task

    with transaction.atomic():
        token = AccessToken.objects.select_for_update(no_key=True).get(pk=token.pk)
        if token.status not in (TokenStatus.CONNECTED, TokenStatus.RENEWAL_FAILING):
            raise RenewalError(
                f"Token {token.name!r} is {token.get_status_display().lower()}: get "
                "a new OAuth 2.0 access token instead."
            )
        token.renewal_queued_at = timezone.now()
        token.save(update_fields=["renewal_queued_at", "updated_at"])
        _audit(token=token, action=AuditEvent.Action.RENEWAL_REQUESTED, actor=actor)
        token_id = str(token.pk)
        transaction.on_commit(lambda: renew_token_task.delay(token_id))
    return token


def token_renewals_queue_due(*, now: datetime) -> int:
    """Claim the tokens due for renewal in batches and queue one renewal for each.

    Each batch locks its rows with SKIP LOCKED, so a second sweep running at the
    same time takes other rows, and moves their next renewal time past the queue
    interval, so that a message lost with the broker is queued again later. The
    messages go out after the batch commits and carry token ids only.
    """
    from tokens.tasks import enqueue_renewals

    queued = 0
    batch_size = settings.TOKEN_RENEWAL_BATCH_SIZE
    requeue_at = now + timedelta(seconds=settings.TOKEN_RENEWAL_QUEUE_SECONDS)
    while queued < settings.TOKEN_RENEWAL_MAX_PER_SWEEP:
        with transaction.atomic():
            due = tokens_due_for_renewal(now=now).select_for_update(
                skip_locked=True, no_key=True
            )
            picked = due.values_list("pk", flat=True)[:batch_size]
            token_ids = [str(pk) for pk in picked]
            if token_ids:
                AccessToken.objects.filter(pk__in=token_ids).update(
                    next_renewal_at=requeue_at, renewal_queued_at=now
                )
                transaction.on_commit(lambda ids=token_ids: enqueue_renewals(ids))
        queued += len(token_ids)
        if len(token_ids) < batch_size:
            break
    return queued

def token_consent_denied(
    *, token: AccessToken, actor: AbstractBaseUser | None = None
) -> None:
    _audit(
        token=token,
        action=AuditEvent.Action.CONSENT_FAILED,
        actor=actor,
        detail="Access was denied on Jira's consent page.",
        result=AuditEvent.Result.DENIED,
    )


def token_consent_started(
    *, token: AccessToken, actor: AbstractBaseUser | None = None
) -> None:
    _audit(token=token, action=AuditEvent.Action.CONSENT_STARTED, actor=actor)


class TokenUnusableError(Exception):
    """The token cannot be used for Jira calls until an administrator acts."""


def token_resolve_site(*, token: AccessToken) -> AccessToken:
    """Find and store the cloud id of a token whose access token was pasted by hand."""
    try:
        site = _match_site(token, oauth.accessible_resources(token.get_secret("access_token")))
    except (oauth.OAuthError, ConsentError) as exc:
        raise TokenUnusableError(
            f"The Jira site of token {token.name!r} cannot be found: {exc}"
        ) from None
    AccessToken.objects.filter(pk=token.pk).update(
        cloud_id=site["id"], site_url=site["url"]
    )
    token.cloud_id = site["id"]
    token.site_url = site["url"]
    return token


def token_prepare_for_use(*, token: AccessToken) -> AccessToken:
    """Return the token ready for a Jira call: connected, fresh and with a site.

    Atlassian does not always reject an expired token with 401, so expiry is judged
    by the stored expiry time, and a token near it is renewed first. Callers that
    find another renewal under way wait for it rather than refresh twice.
    """
    if token.status not in (TokenStatus.CONNECTED, TokenStatus.RENEWAL_FAILING):
        raise TokenUnusableError(
            f"Token {token.name!r} is {token.get_status_display().lower()}: an "
            "administrator must get a new OAuth 2.0 access token for it."
        )
    if token.expires_within(settings.JIRA_TOKEN_REFRESH_MARGIN):
        if token.renewal_rate == RenewalRate.DISABLED:
            if token.expires_within(0):
                raise TokenUnusableError(
                    f"The access token of {token.name!r} has expired and its Renewal "
                    "Rate is Disabled: choose a rate or use Renew now."
                )
        else:
            token = _renew_before_use(token)
    if token.flavour == Flavour.CLOUD and not token.cloud_id:
        token = token_resolve_site(token=token)
    return token


def _renew_before_use(token: AccessToken) -> AccessToken:
    deadline = time.monotonic() + _lease_seconds() + 1
    while True:
        try:
            return token_renew(token_id=token.pk, only_if_expiring=True)
        except RenewalBusyError:
            if time.monotonic() >= deadline:
                break
            time.sleep(_WAIT_FOR_RENEWAL_SECONDS)
        except RenewalError as exc:
            token = AccessToken.objects.get(pk=token.pk)
            if token.expires_within(0) or token.status == TokenStatus.CONSENT_NEEDED:
                raise TokenUnusableError(str(exc)) from None
            return token

    token = AccessToken.objects.get(pk=token.pk)
    if token.expires_within(0):
        raise TokenUnusableError(
            f"Token {token.name!r} is being renewed and its access token has expired; "
            "try again in a few seconds."
        )
    return token

def token_reset_client(
    *, token: AccessToken, consumer_secret: str, callback_url: str
) -> AccessToken:
    """Give a token a new client secret and callback URL, dropping its grant.

    A grant belongs to the client it was issued to, so it cannot outlive the old
    client registration.
    """
    with transaction.atomic():
        token = AccessToken.objects.select_for_update().get(pk=token.pk)
        _disconnect(token)
        token.set_secret("consumer_secret", consumer_secret)
        token.callback_url = callback_url
        token.save()
        _audit(token=token, action=AuditEvent.Action.TOKEN_UPDATED,
               detail="Changed: consumer_secret, callback_url; disconnected")
    return token
