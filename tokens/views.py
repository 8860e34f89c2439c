import secrets
import time
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from activities.capabilities import token_capabilities
from activities.jira import JiraError, JiraUnavailableError
from activities.services import jira_site_for
from tenants.models import Application
from tenants.selectors import (
    applications_using,
    deny,
    get_for_member_or_404,
    visible_to,
)
from tokens import oauth, services
from tokens.forms import AccessTokenForm, CapabilitiesForm
from tokens.selectors import token_secret_problems
from tokens.models import AccessToken, AuditEvent

_CONSENTS_SESSION_KEY = "jira_consents"
TOKENS_PER_PAGE = 20


def _require_membership(request: HttpRequest) -> None:
    if request.membership is None:
        raise PermissionDenied("You are not a member of any tenant.")


def _default_callback_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("tokens:callback"))


@login_required
@require_GET
def token_list(request: HttpRequest) -> HttpResponse:
    _require_membership(request)
    tokens = visible_to(AccessToken.objects, request.membership).select_related(
        "application"
    )
    query = " ".join(request.GET.get("q", "").split())[:100]
    if query:
        tokens = tokens.filter(
            Q(name__icontains=query)
            | Q(portal_url__icontains=query)
            | Q(application__name__icontains=query)
        )

    page = Paginator(tokens.order_by("name", "pk"), TOKENS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "tokens/token_list.html",
        {"page": page, "query": query, "callback_url": _default_callback_url(request)},
    )


def _saveable(
    request: HttpRequest, form: AccessTokenForm
) -> tuple[bool, oauth.Site | None]:
    """Return whether a posted token form may be saved, and its pasted token's site.

    A pasted access token is checked with Jira first. When Jira rejects it, the
    reason becomes the access token field's error and the form is not saved.
    """
    if request.method != "POST" or not form.is_valid():
        return False, None
    fields = form.to_fields()
    if not fields.access_token:
        return True, None
    try:
        return True, services.pasted_access_token_check(fields=fields)
    except services.PastedTokenError as exc:
        form.add_error("access_token", str(exc))
        return False, None


@login_required
@require_http_methods(["GET", "POST"])
def token_create(request: HttpRequest) -> HttpResponse:
    _require_membership(request)
    application = None
    if request.GET.get("application"):
        application = get_for_member_or_404(
            request, Application.objects, pk=request.GET["application"]
        )
        if not request.membership.designs(application):
            raise deny(request, f"Only designers of {application.name} may add its tokens.")
    elif not request.membership.is_administrator:
        raise deny(request, "Only administrators may add global tokens.")

    form = AccessTokenForm(
        request.POST or None,
        tenant=request.membership.tenant,
        application=application,
        initial={"callback_url": _default_callback_url(request)},
    )
    saveable, pasted_site = _saveable(request, form)
    if saveable:
        token = services.token_create(
            tenant=request.membership.tenant,
            application=application,
            fields=form.to_fields(),
            actor=request.user,
            pasted_site=pasted_site,
        )
        messages.success(request, f"Token {token.name} saved.")
        if "_connect" in request.POST:
            return _start_consent(request, token)
        return redirect("tokens:edit", token_id=token.pk)

    return render(
        request,
        "tokens/token_form.html",
        {"form": form, "token": None, "application": application},
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_edit(request: HttpRequest, token_id: str) -> HttpResponse:
    token = get_for_member_or_404(
        request,
        AccessToken.objects.select_related("application"),
        write=request.method == "POST",
        pk=token_id,
    )
    form = AccessTokenForm(
        request.POST or None,
        tenant=token.tenant,
        application=token.application,
        instance=token,
    )
    saveable, pasted_site = _saveable(request, form)
    if saveable:
        token = services.token_update(
            token=token,
            fields=form.to_fields(),
            actor=request.user,
            pasted_site=pasted_site,
        )
        if "_connect" in request.POST:
            return _start_consent(request, token)
        messages.success(request, f"Token {token.name} saved.")
        return redirect("tokens:edit", token_id=token.pk)

    events = AuditEvent.objects.filter(token=token)[:20]
    return render(
        request,
        "tokens/token_form.html",
        {
            "form": form,
            "token": token,
            "application": token.application,
            "events": events,
            "used_by": applications_using(token),
            "secret_problems": token_secret_problems(token),
            "may_write": request.membership.may_write(token),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_delete(request: HttpRequest, token_id: str) -> HttpResponse:
    token = get_for_member_or_404(
        request, AccessToken.objects, write=True, pk=token_id
    )
    if request.method == "POST":
        services.token_delete(token=token, actor=request.user)
        messages.success(request, f"Token {token.name} deleted.")
        return redirect("tokens:list")
    return render(
        request,
        "tokens/token_confirm_delete.html",
        {"token": token, "used_by": applications_using(token)},
    )


@login_required
@require_POST
def token_renew_now(request: HttpRequest, token_id: str) -> HttpResponse:
    token = get_for_member_or_404(request, AccessToken.objects, write=True, pk=token_id)
    try:
        services.token_renewal_request(token=token, actor=request.user)
    except services.RenewalError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Renewal of {token.name} queued.")
    return redirect("tokens:edit", token_id=token.pk)


def _isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@login_required
@require_GET
def token_renewal_progress(request: HttpRequest, token_id: str) -> JsonResponse:
    """Return the token's renewal state for the page's progress line."""
    token = get_for_member_or_404(request, AccessToken.objects, pk=token_id)
    return JsonResponse(
        {
            "renewal": token.renewal_progress(now=timezone.now()),
            "status": token.status,
            "status_display": token.get_status_display(),
            "access_token_expires_at": _isoformat(token.access_token_expires_at),
            "next_renewal_at": _isoformat(token.next_renewal_at),
            "last_renewed_at": _isoformat(token.last_renewed_at),
            "last_error": token.last_error,
        }
    )


def _start_consent(request: HttpRequest, token: AccessToken) -> HttpResponse:
    """Send the browser to Jira's consent page with a single-use state.

    The state names the token and carries a random nonce that the session keeps,
    so the callback can tell which token the reply is for and that this browser
    started it.
    """
    nonce = secrets.token_urlsafe(32)
    server = token.oauth_server()
    # PKCE's verifier is 43 to 128 characters of [A-Za-z0-9-._~]; 64 random
    # bytes in base64url give 86.
    code_verifier = secrets.token_urlsafe(64) if server.uses_pkce else None
    pending = request.session.get(_CONSENTS_SESSION_KEY, {})
    pending[str(token.pk)] = {
        "nonce": nonce,
        "tenant_id": str(token.tenant_id),
        "issued_at": time.time(),
        "code_verifier": code_verifier,
    }
    request.session[_CONSENTS_SESSION_KEY] = pending

    services.token_consent_started(token=token, actor=request.user)
    url = oauth.authorize_url(
        server,
        client_id=token.consumer_key,
        redirect_uri=token.callback_url,
        state=f"{token.pk}.{nonce}",
        code_verifier=code_verifier,
    )
    return HttpResponseRedirect(url)


@login_required
@require_POST
def token_connect(request: HttpRequest, token_id: str) -> HttpResponse:
    token = get_for_member_or_404(request, AccessToken.objects, write=True, pk=token_id)
    return _start_consent(request, token)


def _pop_pending_consent(request: HttpRequest, state: str) -> dict:
    """Consume the session's pending consent for `state` and return it.

    Raises services.ConsentError when the state is malformed, unknown, already
    used, expired or started by another tenant.
    """
    token_id, _, nonce = state.partition(".")
    pending = request.session.get(_CONSENTS_SESSION_KEY, {})
    entry = pending.pop(token_id, None) if token_id else None
    request.session[_CONSENTS_SESSION_KEY] = pending

    if entry is None or not constant_time_compare(entry["nonce"], nonce):
        raise services.ConsentError(
            "This consent reply does not match a consent started in this browser, or "
            "it was already used. Click Get OAuth 2.0 Access Token to start again."
        )
    if time.time() - entry["issued_at"] > settings.JIRA_CONSENT_MAX_AGE:
        raise services.ConsentError(
            "This consent took too long and has expired. Click Get OAuth 2.0 Access "
            "Token to start again."
        )
    if entry["tenant_id"] != str(request.membership.tenant_id):
        raise services.ConsentError(
            "This consent was started in another tenant. Switch back to it and start "
            "again."
        )
    return {"token_id": token_id, "code_verifier": entry.get("code_verifier")}


@login_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Complete a consent: Jira redirects the administrator's browser here."""
    _require_membership(request)
    try:
        pending = _pop_pending_consent(request, request.GET.get("state", ""))
    except services.ConsentError as exc:
        messages.error(request, str(exc))
        return redirect("tokens:list")

    token = get_for_member_or_404(
        request, AccessToken.objects, write=True, pk=pending["token_id"]
    )
    error = request.GET.get("error")
    if error == "access_denied":
        services.token_consent_denied(token=token, actor=request.user)
        messages.warning(
            request, "Access was denied on Jira's consent page; the token is unchanged."
        )
        return redirect("tokens:edit", token_id=token.pk)
    if error or not request.GET.get("code"):
        description = request.GET.get("error_description", "no authorization code")
        messages.error(
            request,
            f"Jira did not grant access ({error or 'missing code'}: {description[:200]}); "
            "the token is unchanged.",
        )
        return redirect("tokens:edit", token_id=token.pk)

    try:
        token = services.token_consent_complete(
            token=token,
            code=request.GET["code"],
            code_verifier=pending["code_verifier"],
            actor=request.user,
        )
    except services.ConsentError as exc:
        messages.error(request, f"{exc} The token is unchanged.")
        return redirect("tokens:edit", token_id=token.pk)

    messages.success(request, f"Token {token.name} is connected to {token.site_url}.")
    return redirect("tokens:edit", token_id=token.pk)



@login_required
@require_GET
def token_capabilities_page(request: HttpRequest, token_id: str) -> HttpResponse:
    """Show which of the nine activities the token may run, from Jira's answer."""
    token = get_for_member_or_404(request, AccessToken.objects, pk=token_id)
    form = CapabilitiesForm(request.GET if "project" in request.GET else None)
    capabilities, error = None, ""
    if form.is_bound and form.is_valid():
        try:
            token = services.token_prepare_for_use(token=token)
            capabilities = token_capabilities(
                jira_site_for(token),
                token_key=str(token.pk),
                granted_scopes=token.scopes,
                project_key=form.cleaned_data["project"] or None,
            )
        except (services.TokenUnusableError, JiraError, JiraUnavailableError) as exc:
            error = str(exc)
    return render(
        request,
        "tokens/token_capabilities.html",
        {"token": token, "form": form, "capabilities": capabilities, "error": error},
    )
