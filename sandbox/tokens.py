"""Authorization codes, token issuance, rotation and validation.

Every function here expects the caller to hold the store lock.

Rotation follows Atlassian's rotating refresh tokens: each refresh returns a new
access token and a new refresh token. The refresh token just used, and the access
token issued with it, keep working for REFRESH_TOKEN_REUSE_INTERVAL after that
rotation and then stop. Presenting a rotated refresh token within the interval
returns a new pair. Presenting it later is treated as theft and revokes the whole
family. A refresh token unused for 90 days, or any token of a family older than
365 days, is rejected.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import logging
import re
import secrets
from typing import Any

from sandbox.state import (
    ACCESS_TOKEN_LIFETIME,
    AUTHORIZATION_CODE_LIFETIME,
    DC_ACCESS_TOKEN_LIFETIME,
    DC_AUTHORIZATION_CODE_LIFETIME,
    DC_REFRESH_TOKEN_LIFETIME,
    REFRESH_TOKEN_INACTIVITY_LIFETIME,
    REFRESH_TOKEN_REUSE_INTERVAL,
    TOKEN_FAMILY_ABSOLUTE_LIFETIME,
    AccessToken,
    AuthorizationCode,
    Client,
    RefreshToken,
    SandboxState,
    TokenFamily,
    new_token,
)

logger = logging.getLogger(__name__)

INVALID_CODE_DESCRIPTION = "Invalid authorization code"
INVALID_REFRESH_TOKEN_DESCRIPTION = "Unknown or invalid refresh token."

# Expired codes are remembered this long so that a replay still revokes the
# tokens issued for them.
USED_CODE_RETENTION = 24 * 3600
SWEEP_EVERY_ISSUED = 1000


class TokenEndpointError(Exception):
    """Error that the token endpoint returns as {"error", "error_description"}."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def to_body(self) -> dict[str, str]:
        """Return the JSON body of the error response."""
        return {"error": self.error, "error_description": self.description}


def invalid_code() -> TokenEndpointError:
    """Return the error for any unusable authorization code."""
    return TokenEndpointError(403, "invalid_grant", INVALID_CODE_DESCRIPTION)


def invalid_refresh_token() -> TokenEndpointError:
    """Return the error for any unusable refresh token."""
    return TokenEndpointError(403, "invalid_grant", INVALID_REFRESH_TOKEN_DESCRIPTION)


TOKEN_GRANT_TYPES = ("authorization_code", "refresh_token")


def count_token_request(state: SandboxState, client_id: str, grant_type: str) -> None:
    """Count one authenticated token request of a client, by grant type."""
    counter = state.token_requests.setdefault(client_id, collections.Counter())
    counter[grant_type if grant_type in TOKEN_GRANT_TYPES else "unsupported"] += 1


def authenticate_client(
    state: SandboxState, client_id: str, client_secret: str
) -> Client | None:
    """Return the client if the id is registered and the secret matches."""
    client = state.clients.get(client_id)
    if client is None:
        return None
    if not secrets.compare_digest(
        client.client_secret.encode(), client_secret.encode()
    ):
        return None
    return client


def issue_authorization_code(
    state: SandboxState,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    account_id: str,
    cloud_id: str,
) -> str:
    """Record the user's consent for the site and return a new authorization code."""
    code = new_token()
    state.authorization_codes[code] = AuthorizationCode(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=list(scopes),
        account_id=account_id,
        cloud_id=cloud_id,
        expires_at=state.now() + AUTHORIZATION_CODE_LIFETIME,
    )
    granted_sites = state.grants.setdefault((client_id, account_id), [])
    if cloud_id not in granted_sites:
        granted_sites.append(cloud_id)
    _count_issued(state)
    return code


def exchange_authorization_code(
    state: SandboxState, client: Client, code: str, redirect_uri: str
) -> dict[str, Any]:
    """Redeem an authorization code for tokens; raise TokenEndpointError if invalid."""
    record = state.authorization_codes.get(code)
    if record is None:
        raise invalid_code()

    if record.used:
        # RFC 6749 section 4.1.2: a replayed code revokes the tokens issued for it.
        if record.family_id is not None:
            family = state.families.get(record.family_id)
            if family is not None:
                family.requests["authorization_code"] += 1
                revoke_family(state, family, "authorization code replayed")
        raise invalid_code()

    if record.client_id != client.client_id:
        raise invalid_code()
    if state.now() >= record.expires_at:
        raise invalid_code()
    if record.redirect_uri != redirect_uri:
        raise invalid_code()

    record.used = True
    family = TokenFamily(
        family_id=secrets.token_hex(8),
        client_id=client.client_id,
        account_id=record.account_id,
        scopes=list(record.scopes),
        created_at=state.now(),
    )
    family.requests["authorization_code"] += 1
    state.families[family.family_id] = family
    record.family_id = family.family_id
    logger.info(
        "Issued token family %s to client %s for account %s",
        family.family_id,
        client.client_id,
        family.account_id,
    )
    return _issue_token_pair(state, family)


def refresh_access_token(
    state: SandboxState, client: Client, refresh_token: str
) -> dict[str, Any]:
    """Rotate a refresh token into a new token pair; raise TokenEndpointError if not."""
    now = state.now()
    record = state.refresh_tokens.get(refresh_token)
    if record is None:
        raise invalid_refresh_token()
    family = state.families.get(record.family_id)
    if family is None or family.client_id != client.client_id:
        raise invalid_refresh_token()

    family.requests["refresh_token"] += 1
    if family.revoked:
        raise invalid_refresh_token()
    if now >= family.created_at + TOKEN_FAMILY_ABSOLUTE_LIFETIME:
        raise invalid_refresh_token()

    if record.rotated_at is None:
        if now >= record.issued_at + REFRESH_TOKEN_INACTIVITY_LIFETIME:
            raise invalid_refresh_token()
        record.rotated_at = now
    elif now >= record.rotated_at + REFRESH_TOKEN_REUSE_INTERVAL:
        revoke_family(state, family, "rotated refresh token reused after the interval")
        raise invalid_refresh_token()
    # NOTE: a rotated token presented within the interval also returns a new pair
    # and leaves the pair from the first rotation valid, so concurrent refreshes
    # both succeed. Whether Atlassian keeps both pairs valid too is unverified.

    return _issue_token_pair(state, family)


def revoke_family(state: SandboxState, family: TokenFamily, reason: str) -> None:
    """Revoke every access and refresh token of the family."""
    if family.revoked:
        return
    family.revoked_at = state.now()
    family.revoked_reason = reason
    logger.warning(
        "Revoked token family %s of client %s: %s",
        family.family_id,
        family.client_id,
        reason,
    )


def find_access_token_family(
    state: SandboxState, access_token: str
) -> TokenFamily | None:
    """Return the family of a live access token, or None if it cannot be used."""
    record = state.access_tokens.get(access_token)
    if record is None:
        return None
    family = state.families.get(record.family_id)
    if family is None or family.revoked:
        return None

    now = state.now()
    if now >= record.expires_at:
        return None
    if record.refresh_token is not None:
        paired = state.refresh_tokens.get(record.refresh_token)
        if paired is not None and paired.rotated_at is not None:
            if now >= paired.rotated_at + REFRESH_TOKEN_REUSE_INTERVAL:
                return None
    return family


def _issue_token_pair(state: SandboxState, family: TokenFamily) -> dict[str, Any]:
    """Issue an access token, plus a refresh token under offline_access."""
    now = state.now()
    refresh_token = None
    if "offline_access" in family.scopes:
        refresh_token = new_token()
        state.refresh_tokens[refresh_token] = RefreshToken(
            family_id=family.family_id, issued_at=now
        )

    access_token = new_token()
    state.access_tokens[access_token] = AccessToken(
        family_id=family.family_id,
        expires_at=now + ACCESS_TOKEN_LIFETIME,
        refresh_token=refresh_token,
    )
    _count_issued(state)

    body: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "scope": " ".join(family.scopes),
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return body


def _count_issued(state: SandboxState) -> None:
    state.issued_since_sweep += 1
    if state.issued_since_sweep >= SWEEP_EVERY_ISSUED:
        state.issued_since_sweep = 0
        sweep_dead_credentials(state)


def sweep_dead_credentials(state: SandboxState) -> None:
    """Drop codes, access and refresh tokens that can never be accepted again."""
    now = state.now()
    state.authorization_codes = {
        code: record
        for code, record in state.authorization_codes.items()
        if now < record.expires_at + USED_CODE_RETENTION
    }
    state.access_tokens = {
        token: record
        for token, record in state.access_tokens.items()
        if now < record.expires_at
    }
    state.refresh_tokens = {
        token: record
        for token, record in state.refresh_tokens.items()
        if _refresh_token_may_matter(state, record, now)
    }


def _refresh_token_may_matter(
    state: SandboxState, record: RefreshToken, now: float
) -> bool:
    # Rotated tokens of a live family stay, because presenting one later must
    # still be detected as reuse and revoke the family.
    family = state.families.get(record.family_id)
    if family is None or family.revoked:
        return False
    if now >= family.created_at + TOKEN_FAMILY_ABSOLUTE_LIFETIME:
        return False
    if record.rotated_at is None:
        return now < record.issued_at + REFRESH_TOKEN_INACTIVITY_LIFETIME
    return True


# Jira Data Center's OAuth 2.0 provider. Codes carry an optional PKCE
# challenge; refreshes need the redirect URI of the consent and end the old
# access and refresh tokens at once, with no reuse interval.

PKCE_VERIFIER_PATTERN = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def issue_dc_authorization_code(
    state: SandboxState,
    client: Client,
    redirect_uri: str,
    scopes: list[str],
    account_id: str,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> str:
    """Record a Data Center consent and return a new authorization code."""
    assert client.instance is not None
    code = new_token()
    state.authorization_codes[code] = AuthorizationCode(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=list(scopes),
        account_id=account_id,
        cloud_id=client.instance,
        expires_at=state.now() + DC_AUTHORIZATION_CODE_LIFETIME,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
    )
    _count_issued(state)
    return code


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """Return whether a code_verifier answers the code_challenge (S256 or plain)."""
    if not PKCE_VERIFIER_PATTERN.fullmatch(verifier):
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    return secrets.compare_digest(expected, challenge)


def exchange_dc_authorization_code(
    state: SandboxState,
    client: Client,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
) -> dict[str, Any]:
    """Redeem a Data Center code; raise TokenEndpointError if it is unusable."""
    record = state.authorization_codes.get(code)
    if record is None or record.client_id != client.client_id:
        raise dc_invalid_grant("Invalid authorization code")
    if record.used:
        if record.family_id is not None and record.family_id in state.families:
            revoke_family(
                state, state.families[record.family_id], "authorization code replayed"
            )
        raise dc_invalid_grant("Invalid authorization code")
    if state.now() >= record.expires_at:
        raise dc_invalid_grant("Authorization code expired")
    if record.redirect_uri != redirect_uri:
        raise dc_invalid_grant("The redirect_uri does not match the authorization.")
    if record.code_challenge is not None:
        if not code_verifier or not pkce_matches(
            code_verifier,
            record.code_challenge,
            record.code_challenge_method or "plain",
        ):
            raise dc_invalid_grant(
                "The code_verifier does not match the code_challenge."
            )

    record.used = True
    family = TokenFamily(
        family_id=secrets.token_hex(8),
        client_id=client.client_id,
        account_id=record.account_id,
        scopes=list(record.scopes),
        created_at=state.now(),
        instance=record.cloud_id,
    )
    family.requests["authorization_code"] += 1
    state.families[family.family_id] = family
    record.family_id = family.family_id
    logger.info(
        "Issued Data Center token family %s to client %s for account %s",
        family.family_id,
        client.client_id,
        family.account_id,
    )
    return _issue_dc_token_pair(state, family)


def refresh_dc_access_token(
    state: SandboxState, client: Client, refresh_token: str, redirect_uri: str
) -> dict[str, Any]:
    """Trade a Data Center refresh token for a new pair, ending the old pair now."""
    record = state.refresh_tokens.get(refresh_token)
    family = state.families.get(record.family_id) if record is not None else None
    if (
        record is None
        or family is None
        or family.client_id != client.client_id
        or family.instance is None
    ):
        raise dc_invalid_grant(INVALID_REFRESH_TOKEN_DESCRIPTION)
    family.requests["refresh_token"] += 1
    if family.revoked or record.rotated_at is not None:
        raise dc_invalid_grant(INVALID_REFRESH_TOKEN_DESCRIPTION)
    if state.now() >= record.issued_at + DC_REFRESH_TOKEN_LIFETIME:
        raise dc_invalid_grant("Refresh token expired")
    if redirect_uri not in client.redirect_uris:
        raise dc_invalid_grant("The redirect_uri does not match the client.")

    record.rotated_at = state.now()
    if record.access_token is not None:
        state.access_tokens.pop(record.access_token, None)
    del state.refresh_tokens[refresh_token]
    return _issue_dc_token_pair(state, family)


def dc_invalid_grant(description: str) -> TokenEndpointError:
    """Return Data Center's error for an unusable code or refresh token."""
    return TokenEndpointError(400, "invalid_grant", description)


def _issue_dc_token_pair(state: SandboxState, family: TokenFamily) -> dict[str, Any]:
    now = state.now()
    refresh_token = new_token()
    access_token = new_token()
    state.refresh_tokens[refresh_token] = RefreshToken(
        family_id=family.family_id, issued_at=now, access_token=access_token
    )
    state.access_tokens[access_token] = AccessToken(
        family_id=family.family_id,
        expires_at=now + DC_ACCESS_TOKEN_LIFETIME,
        refresh_token=refresh_token,
    )
    _count_issued(state)
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": DC_ACCESS_TOKEN_LIFETIME,
        "refresh_token": refresh_token,
        "created_at": int(now),
        "scope": " ".join(family.scopes),
    }
