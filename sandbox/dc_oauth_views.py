"""Jira Data Center's OAuth 2.0 provider, under each instance's portal URL.

Endpoints, relative to the portal /dc/<instance>:

- ``rest/oauth2/latest/authorize``: the consent page (GET) and the user's
  decision (POST). PKCE is optional; S256 and plain are accepted.
- ``rest/oauth2/latest/token``: authorization_code and refresh_token grants.
  Parameters come from a form-encoded body or from the query string, as in
  Atlassian's examples. redirect_uri is required by both grants.

Errors follow RFC 6749: 400 with invalid_request, invalid_grant,
unsupported_grant_type or invalid_scope, and 401 invalid_client.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from sandbox.oauth_views import redirect_with, redirect_with_error, token_response
from sandbox.state import (
    DC_SCOPE_DESCRIPTIONS,
    DC_SCOPES,
    Client,
    SandboxState,
    Site,
    get_store,
)
from sandbox.tokens import (
    TokenEndpointError,
    authenticate_client,
    count_token_request,
    exchange_dc_authorization_code,
    issue_dc_authorization_code,
    refresh_dc_access_token,
)

logger = logging.getLogger(__name__)

AUTHORIZE_PARAMETERS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)
PKCE_METHODS = ("S256", "plain")


@dataclass
class DataCenterAuthorization:
    """Validated parameters of a Data Center authorization request."""

    site: Site
    client: Client
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    parameters: dict[str, str]


def _error_page(message: str) -> HttpResponse:
    logger.info("Rejected Data Center authorization request: %s", message)
    return render(
        None, "sandbox/authorize_error.html", {"message": message}, status=400
    )


def validate_authorization(
    state: SandboxState, instance: str, parameters: QueryDict
) -> DataCenterAuthorization | HttpResponse:
    """Validate an authorization request; return it or the response to send."""
    site = state.sites.get(instance)
    if site is None or site.is_cloud:
        return _error_page(f"No Jira Data Center instance is named {instance!r}.")
    client_id = parameters.get("client_id", "")
    client = state.clients.get(client_id)
    if client is None or client.instance != instance:
        return _error_page(
            f"No incoming application link of this instance has client_id "
            f"{client_id!r}."
        )
    redirect_uri = parameters.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return _error_page(
            f"The redirect_uri {redirect_uri!r} is not the Redirect URL of "
            f"{client.name}."
        )

    request_state = parameters.get("state")
    if parameters.get("response_type") != "code":
        return redirect_with_error(
            redirect_uri,
            request_state,
            "unsupported_response_type",
            "The response_type parameter must be code.",
        )
    scopes = list(dict.fromkeys(parameters.get("scope", "").split()))
    unknown = [scope for scope in scopes if scope not in DC_SCOPES]
    if not scopes or unknown:
        return redirect_with_error(
            redirect_uri,
            request_state,
            "invalid_scope",
            "Request one or more of the scopes " + ", ".join(DC_SCOPES) + ".",
        )
    challenge = parameters.get("code_challenge") or None
    method = parameters.get("code_challenge_method") or ("plain" if challenge else None)
    if method is not None and (challenge is None or method not in PKCE_METHODS):
        return redirect_with_error(
            redirect_uri,
            request_state,
            "invalid_request",
            "Send code_challenge with code_challenge_method S256 or plain.",
        )

    original = {
        name: parameters[name] for name in AUTHORIZE_PARAMETERS if name in parameters
    }
    return DataCenterAuthorization(
        site=site,
        client=client,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=request_state,
        code_challenge=challenge,
        code_challenge_method=method,
        parameters=original,
    )


@csrf_exempt
def authorize(request: HttpRequest, instance: str) -> HttpResponse:
    """Show the consent page (GET) or record the user's decision (POST)."""
    if request.method not in ("GET", "POST"):
        response = HttpResponse("Method not allowed.", status=405)
        response["Allow"] = "GET, POST"
        return response

    parameters = request.GET if request.method == "GET" else request.POST
    store = get_store()
    with store.lock:
        state = store.state
        validated = validate_authorization(state, instance, parameters)
        if isinstance(validated, HttpResponse):
            return validated
        if request.method == "GET":
            return _consent_page(request, state, validated, None)
        return _record_decision(request, state, validated)


def _record_decision(
    request: HttpRequest, state: SandboxState, authorization: DataCenterAuthorization
) -> HttpResponse:
    decision = request.POST.get("decision")
    if decision == "deny":
        return redirect_with_error(
            authorization.redirect_uri,
            authorization.state,
            "access_denied",
            "The user denied the request.",
        )
    account_id = request.POST.get("account_id", "")
    user = state.users.get(account_id)
    if (
        decision != "accept"
        or user is None
        or authorization.site.cloud_id not in user.sites
    ):
        return _consent_page(
            request,
            state,
            authorization,
            "Choose a user of this instance, then Allow or Deny.",
        )

    code = issue_dc_authorization_code(
        state,
        client=authorization.client,
        redirect_uri=authorization.redirect_uri,
        scopes=authorization.scopes,
        account_id=account_id,
        code_challenge=authorization.code_challenge,
        code_challenge_method=authorization.code_challenge_method,
    )
    logger.info(
        "Account %s granted client %s access to instance %s",
        account_id,
        authorization.client.client_id,
        authorization.site.cloud_id,
    )
    query = {"code": code}
    if authorization.state is not None:
        query["state"] = authorization.state
    return redirect_with(authorization.redirect_uri, query)


def _consent_page(
    request: HttpRequest,
    state: SandboxState,
    authorization: DataCenterAuthorization,
    error: str | None,
) -> HttpResponse:
    users = [
        user
        for user in state.users.values()
        if authorization.site.cloud_id in user.sites
    ]
    context = {
        "site": authorization.site,
        "client": authorization.client,
        "scopes": [
            {"key": scope, "description": DC_SCOPE_DESCRIPTIONS[scope]}
            for scope in authorization.scopes
        ],
        "users": users,
        "hidden_parameters": authorization.parameters,
        "action": request.path,
        "error": error,
    }
    return render(
        request, "sandbox/dc_consent.html", context, status=400 if error else 200
    )


def _token_error(status: int, error: str, description: str) -> JsonResponse:
    return token_response({"error": error, "error_description": description}, status)


@csrf_exempt
def token(request: HttpRequest, instance: str) -> HttpResponse:
    """Exchange an authorization code or a refresh token for a new token pair."""
    if request.method != "POST":
        response = _token_error(405, "invalid_request", "Use POST.")
        response["Allow"] = "POST"
        return response
    # Atlassian's examples send every parameter on the query string of the POST;
    # a form-encoded body works too and wins where both name a parameter.
    parameters = {**request.GET.dict(), **request.POST.dict()}
    for name in ("grant_type", "client_id", "client_secret", "redirect_uri"):
        if not parameters.get(name):
            return _token_error(
                400, "invalid_request", f"Missing required parameter {name!r}."
            )

    grant_type = parameters["grant_type"]
    store = get_store()
    with store.lock:
        state = store.state
        client = authenticate_client(
            state, parameters["client_id"], parameters["client_secret"]
        )
        if client is None or client.instance != instance:
            logger.warning(
                "Rejected Data Center token request: bad credentials for client_id %s",
                parameters["client_id"],
            )
            return _token_error(401, "invalid_client", "Client authentication failed.")
        count_token_request(state, client.client_id, grant_type)

        try:
            if grant_type == "authorization_code":
                if not parameters.get("code"):
                    return _token_error(
                        400, "invalid_request", "Missing required parameter 'code'."
                    )
                issued = exchange_dc_authorization_code(
                    state,
                    client,
                    parameters["code"],
                    parameters["redirect_uri"],
                    parameters.get("code_verifier"),
                )
            elif grant_type == "refresh_token":
                if not parameters.get("refresh_token"):
                    return _token_error(
                        400,
                        "invalid_request",
                        "Missing required parameter 'refresh_token'.",
                    )
                issued = refresh_dc_access_token(
                    state,
                    client,
                    parameters["refresh_token"],
                    parameters["redirect_uri"],
                )
            else:
                return _token_error(
                    400,
                    "unsupported_grant_type",
                    "Use grant_type authorization_code or refresh_token.",
                )
        except TokenEndpointError as error:
            logger.info(
                "Rejected Data Center %s grant for client %s: %s",
                grant_type,
                client.client_id,
                error.description,
            )
            return token_response(error.to_body(), error.status)
    return token_response(issued)
