"""Writes to access tokens: each function owns its transaction and audit event."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tenants.models import Application, Tenant
from tokens import oauth
from tokens.models import AccessToken, AuditEvent, Flavour, TokenStatus

logger = logging.getLogger(__name__)


class ConsentError(Exception):
    """A consent could not be completed; nothing stored was changed."""


class RenewalError(Exception):
    """A token could not be renewed; its status and last error say why."""


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


def _store_pasted_access_token(token: AccessToken, access_token: str) -> None:
    """Store an access token pasted by hand; its expiry and site are unknown."""
    _disconnect(token)
    token.set_secret("access_token", access_token)
    token.status = TokenStatus.CONNECTED
    token.connected_at = timezone.now()


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
) -> AccessToken:
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
        _store_pasted_access_token(token, fields.access_token)

    with transaction.atomic():
        token.save()
        _audit(token=token, action=AuditEvent.Action.TOKEN_CREATED, actor=actor)
    return token


def token_update(
    *, token: AccessToken, fields: TokenFields, actor: AbstractBaseUser | None = None
) -> AccessToken:
    """Apply the configuration screen's values to a token.

    A new portal URL, flavour or consumer key disconnects the token: its grant belongs to the
    old site and app, and no token may be sent to a new host before a new consent.
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
            _store_pasted_access_token(token, fields.access_token)
            changed.append("access_token")
        if token.status == TokenStatus.CONNECTED:
            token.next_renewal_at = token.compute_next_renewal(now=timezone.now())

        token.save()
        _audit(
            token=token,
            action=AuditEvent.Action.TOKEN_UPDATED,
            actor=actor,
            detail="Changed: " + (", ".join(changed) or "nothing"),
        )
    return token


def token_delete(*, token: AccessToken, actor: AbstractBaseUser | None = None) -> None:
    with transaction.atomic():
        _audit(token=token, action=AuditEvent.Action.TOKEN_DELETED, actor=actor)
        token.delete()


def _store_grant(token: AccessToken, grant: oauth.TokenGrant) -> None:
    now = timezone.now()
    token.set_secret("access_token", grant.access_token)
    token.set_secret("refresh_token", grant.refresh_token)
    token.access_token_expires_at = grant.expires_at
    token.scopes = grant.scopes
    token.status = TokenStatus.CONNECTED
    token.last_error = ""
    token.last_renewed_at = now
    token.next_renewal_at = token.compute_next_renewal(now=now)


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


def token_renew(*, token_id: object, only_if_expiring: bool = False) -> AccessToken:
    """Refresh a token's access token and store the rotated pair.

    The row stays locked from reading the refresh token until the new pair is
    committed, because Atlassian rotates refresh tokens and two concurrent
    refreshes would race on a dead one. With only_if_expiring, a token that another
    caller renewed while this one waited for the lock is returned as it is.
    """
    margin = settings.JIRA_TOKEN_REFRESH_MARGIN
    failure: RenewalError | None = None
    with transaction.atomic():
        token = AccessToken.objects.select_for_update().get(pk=token_id)
        if only_if_expiring and not token.expires_within(margin):
            return token
        if not token.has_secret("refresh_token"):
            raise RenewalError(
                f"Token {token.name!r} has no refresh token: get a new OAuth 2.0 "
                "access token."
            )

        try:
            grant = oauth.refresh(
                token.oauth_server(),
                client_id=token.consumer_key,
                client_secret=token.get_secret("consumer_secret"),
                refresh_token=token.get_secret("refresh_token"),
                redirect_uri=token.callback_url,
            )
        except (oauth.InvalidGrantError, oauth.InvalidClientError) as exc:
            token.status = TokenStatus.CONSENT_NEEDED
            token.next_renewal_at = None
            token.last_error = str(exc)
            failure = RenewalError(str(exc))
        except oauth.OAuthError as exc:
            token.status = TokenStatus.RENEWAL_FAILING
            token.last_error = str(exc)
            failure = RenewalError(str(exc))
        else:
            _store_grant(token, grant)

        token.save()
        _audit(
            token=token,
            action=(
                AuditEvent.Action.RENEWAL_FAILED
                if failure
                else AuditEvent.Action.TOKEN_RENEWED
            ),
            detail=token.last_error,
            result=AuditEvent.Result.FAILURE if failure else AuditEvent.Result.SUCCESS,
        )
    if failure is not None:
        logger.warning(
            "Token renewal failed: %s", token.last_error, extra={"token_id": str(token.pk)}
        )
        raise failure
    return token


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

    Atlassian does not always answer an expired token with 401, so expiry is judged
    by the stored expiry time, and a token near it is renewed first.
    """
    if token.status not in (TokenStatus.CONNECTED, TokenStatus.RENEWAL_FAILING):
        raise TokenUnusableError(
            f"Token {token.name!r} is {token.get_status_display().lower()}: an "
            "administrator must get a new OAuth 2.0 access token for it."
        )
    if token.expires_within(settings.JIRA_TOKEN_REFRESH_MARGIN):
        try:
            token = token_renew(token_id=token.pk, only_if_expiring=True)
        except RenewalError as exc:
            if token.expires_within(0):
                raise TokenUnusableError(str(exc)) from None
    if token.flavour == Flavour.CLOUD and not token.cloud_id:
        token = token_resolve_site(token=token)
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
