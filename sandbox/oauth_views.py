"""Atlassian authorization server: /authorize, /oauth/token, accessible-resources."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from sandbox.gateway import gateway_error, parse_bearer_token, unauthorized
from sandbox.state import (
    KNOWN_SCOPES,
    SCOPE_DESCRIPTIONS,
    Client,
    SandboxState,
    get_store,
)
from sandbox.tokens import (
    TokenEndpointError,
    authenticate_client,
    count_token_request,
    exchange_authorization_code,
    find_access_token_family,
    issue_authorization_code,
    refresh_access_token,
)

logger = logging.getLogger(__name__)

AUDIENCE = "api.atlassian.com"
# Parameters of the authorization request that the consent form sends back.
AUTHORIZE_PARAMETERS = (
    "audience",
    "client_id",
    "scope",
    "redirect_uri",
    "state",
    "response_type",
    "prompt",
)


@dataclass
class AuthorizationRequest:
    """Validated parameters of an authorization request."""

    client: Client
    redirect_uri: str
    scopes: list[str]
    state: str | None
    parameters: dict[str, str]


def validate_authorization_request(
    state: SandboxState, parameters: QueryDict
) -> AuthorizationRequest | HttpResponse:
    """Validate an authorization request; return it or the error response to send.

    A bad client_id or redirect_uri gets a 400 page, because redirecting to an
    untrusted URI would leak the error to the owner of that URI. Other errors
    redirect to the redirect URI as RFC 6749 section 4.1.2.1 describes.
    """
    client_id = parameters.get("client_id", "")
    client = state.clients.get(client_id)
    if client is None or client.instance is not None:
        return _authorize_error_page(
            f"Unknown client_id {client_id!r}. Register the app first, then retry."
        )
    redirect_uri = parameters.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return _authorize_error_page(
            f"The redirect_uri {redirect_uri!r} does not match any callback URL "
            f"registered for {client.name}."
        )

    request_state = parameters.get("state")
    if parameters.get("audience") != AUDIENCE:
        return redirect_with_error(
            redirect_uri,
            request_state,
            "invalid_request",
            f"The audience parameter must be {AUDIENCE}.",
        )
    if parameters.get("response_type") != "code":
        return redirect_with_error(
            redirect_uri,
            request_state,
            "unsupported_response_type",
            "The response_type parameter must be code.",
        )

    scopes = list(dict.fromkeys(parameters.get("scope", "").split()))
    if not scopes:
        return redirect_with_error(
            redirect_uri,
            request_state,
            "invalid_scope",
            "The scope parameter is missing or empty.",
        )
    unknown_scopes = [scope for scope in scopes if scope not in KNOWN_SCOPES]
    if unknown_scopes:
        return redirect_with_error(
            redirect_uri,
            request_state,
            "invalid_scope",
            "Unknown scope: " + " ".join(unknown_scopes),
        )

    original = {
        name: parameters[name] for name in AUTHORIZE_PARAMETERS if name in parameters
    }
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=request_state,
        parameters=original,
    )


@csrf_exempt
def authorize(request: HttpRequest) -> HttpResponse:
    """Show the consent page (GET) or record the user's decision (POST)."""
    if request.method not in ("GET", "POST"):
        response = HttpResponse("Method not allowed.", status=405)
        response["Allow"] = "GET, POST"
        return response

    parameters = request.GET if request.method == "GET" else request.POST
    store = get_store()
    with store.lock:
        state = store.state
        validated = validate_authorization_request(state, parameters)
        if isinstance(validated, HttpResponse):
            return validated

        if request.method == "GET":
            return _consent_page(
                request, state, validated, parameters.get("account_id")
            )
        return _record_decision(request, state, validated)


def _record_decision(
    request: HttpRequest, state: SandboxState, authorization: AuthorizationRequest
) -> HttpResponse:
    decision = request.POST.get("decision")
    if decision == "deny":
        logger.info("User denied client %s", authorization.client.client_id)
        return redirect_with_error(
            authorization.redirect_uri,
            authorization.state,
            "access_denied",
            "User did not authorize the request",
        )
    if decision != "accept":
        return _consent_page(
            request,
            state,
            authorization,
            request.POST.get("account_id"),
            error="Choose Accept or Deny.",
        )

    account_id = request.POST.get("account_id", "")
    user = state.users.get(account_id)
    if user is None:
        return _consent_page(
            request, state, authorization, None, error="Choose a user to sign in as."
        )
    cloud_id = request.POST.get("cloud_id", "")
    site = state.sites.get(cloud_id)
    if cloud_id not in user.sites or site is None or not site.is_cloud:
        return _consent_page(
            request,
            state,
            authorization,
            account_id,
            error=f"{user.display_name} cannot use the app on that site. "
            "Choose one of the sites listed.",
        )

    code = issue_authorization_code(
        state,
        client_id=authorization.client.client_id,
        redirect_uri=authorization.redirect_uri,
        scopes=authorization.scopes,
        account_id=account_id,
        cloud_id=cloud_id,
    )
    logger.info(
        "Account %s granted client %s access to site %s",
        account_id,
        authorization.client.client_id,
        cloud_id,
    )
    query = {"code": code}
    if authorization.state is not None:
        query["state"] = authorization.state
    return redirect_with(authorization.redirect_uri, query)


def _consent_page(
    request: HttpRequest,
    state: SandboxState,
    authorization: AuthorizationRequest,
    account_id: str | None,
    error: str | None = None,
) -> HttpResponse:
    users = list(state.users.values())
    selected_user = state.users.get(account_id or "") or (users[0] if users else None)
    sites = []
    if selected_user is not None:
        sites = [
            state.sites[cloud_id]
            for cloud_id in selected_user.sites
            if cloud_id in state.sites and state.sites[cloud_id].is_cloud
        ]
    context = {
        "client": authorization.client,
        "scopes": [
            {"key": scope, "description": SCOPE_DESCRIPTIONS[scope]}
            for scope in authorization.scopes
        ],
        "users": users,
        "selected_user": selected_user,
        "sites": sites,
        "hidden_parameters": authorization.parameters,
        "error": error,
    }
    status = 400 if error else 200
    return render(request, "sandbox/consent.html", context, status=status)


def _authorize_error_page(message: str) -> HttpResponse:
    logger.info("Rejected authorization request: %s", message)
    return render(
        None, "sandbox/authorize_error.html", {"message": message}, status=400
    )


def redirect_with(redirect_uri: str, parameters: dict[str, str]) -> HttpResponse:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(parameters.items())
    return HttpResponseRedirect(urlunsplit(parts._replace(query=urlencode(query))))


def redirect_with_error(
    redirect_uri: str, request_state: str | None, error: str, description: str
) -> HttpResponse:
    parameters = {"error": error, "error_description": description}
    if request_state is not None:
        parameters["state"] = request_state
    return redirect_with(redirect_uri, parameters)


def token_response(body: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    # RFC 6749 section 5.1: responses carrying tokens must not be cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _token_error(status: int, error: str, description: str) -> JsonResponse:
    return token_response({"error": error, "error_description": description}, status)


@csrf_exempt
def token(request: HttpRequest) -> HttpResponse:
    """Exchange an authorization code or a refresh token for tokens."""
    if request.method != "POST":
        response = _token_error(405, "invalid_request", "Use POST.")
        response["Allow"] = "POST"
        return response
    if request.content_type != "application/json":
        return _token_error(
            415,
            "invalid_request",
            "The request body must be JSON with Content-Type: application/json.",
        )
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _token_error(
            400, "invalid_request", "The request body is not valid JSON."
        )
    if not isinstance(body, dict):
        return _token_error(
            400, "invalid_request", "The request body must be a JSON object."
        )

    for name in ("grant_type", "client_id", "client_secret"):
        missing = _missing_parameter(body, name)
        if missing is not None:
            return missing

    grant_type = body["grant_type"]
    store = get_store()
    with store.lock:
        state = store.state
        client = authenticate_client(state, body["client_id"], body["client_secret"])
        # A Data Center application link's client is unknown to Atlassian.
        if client is None or client.instance is not None:
            logger.warning(
                "Rejected token request: bad credentials for client_id %s",
                body["client_id"],
            )
            return _token_error(401, "access_denied", "Unauthorized")

        count_token_request(state, client.client_id, grant_type)

        try:
            if grant_type == "authorization_code":
                for name in ("code", "redirect_uri"):
                    missing = _missing_parameter(body, name)
                    if missing is not None:
                        return missing
                issued = exchange_authorization_code(
                    state, client, body["code"], body["redirect_uri"]
                )
            elif grant_type == "refresh_token":
                missing = _missing_parameter(body, "refresh_token")
                if missing is not None:
                    return missing
                issued = refresh_access_token(state, client, body["refresh_token"])
            else:
                return _token_error(
                    400,
                    "unsupported_grant_type",
                    f"Unsupported grant_type {grant_type!r}; use authorization_code "
                    "or refresh_token.",
                )
        except TokenEndpointError as error:
            logger.info(
                "Rejected %s grant for client %s: %s",
                grant_type,
                client.client_id,
                error.description,
            )
            return token_response(error.to_body(), error.status)
    return token_response(issued)


def _missing_parameter(body: dict[str, Any], name: str) -> JsonResponse | None:
    value = body.get(name)
    if isinstance(value, str) and value:
        return None
    return _token_error(
        400,
        "invalid_request",
        f"Missing or invalid parameter {name!r}: it must be a non-empty string.",
    )


def accessible_resources(request: HttpRequest) -> HttpResponse:
    """List the sites the access token's grant covers, with the granted scopes."""
    if request.method != "GET":
        response = gateway_error(405, "Method Not Allowed")
        response["Allow"] = "GET"
        return response

    access_token = parse_bearer_token(request)
    store = get_store()
    with store.lock:
        state = store.state
        family = find_access_token_family(state, access_token) if access_token else None
        if family is None:
            return unauthorized()
        user = state.users.get(family.account_id)
        user_sites = user.sites if user is not None else []
        granted = state.grants.get((family.client_id, family.account_id), [])
        resources = [
            {
                "id": cloud_id,
                "name": state.sites[cloud_id].name,
                "url": state.sites[cloud_id].url,
                "scopes": list(family.scopes),
                "avatarUrl": state.sites[cloud_id].avatar_url,
            }
            for cloud_id in granted
            if cloud_id in state.sites and cloud_id in user_sites
        ]
    return JsonResponse(resources, safe=False)
