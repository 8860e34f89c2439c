"""Pages for the tenant: members, applications, API keys and the audit log."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants import services
from tenants.audit import ACTION_LABELS
from tenants.forms import (
    ApiKeyForm,
    ApplicationCreateForm,
    ApplicationNameForm,
    AuditFilterForm,
    DesignersForm,
    InviteForm,
    RoleForm,
    TokenChoiceForm,
)
from tenants.models import ApiKey, Application, Membership
from tenants.selectors import deny, get_for_member_or_404, tenant_scoped, visible_to
from tokens.models import AuditEvent

AUDIT_PAGE_SIZE = 50


def _membership(request: HttpRequest) -> Membership:
    if request.membership is None:
        raise Http404("You are not a member of any tenant.")
    return request.membership


def _require_administrator(request: HttpRequest, what: str) -> Membership:
    membership = _membership(request)
    if not membership.is_administrator:
        raise deny(request, f"Only administrators may {what}.")
    return membership


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
@require_GET
def tenant_overview(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    memberships = request.user.memberships.select_related("tenant").order_by(
        "tenant__name"
    )
    return render(
        request,
        "tenants/overview.html",
        {"current": membership, "memberships": memberships},
    )


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    try:
        tenant_id = uuid.UUID(request.POST.get("tenant", ""))
    except ValueError:
        raise Http404 from None
    chosen = request.user.memberships.filter(tenant_id=tenant_id).first()
    if chosen is None:
        raise Http404
    request.session["tenant_id"] = str(chosen.tenant_id)
    messages.success(request, f"Switched to {chosen.tenant.name}.")
    return redirect("tokens:list")


@login_required
@require_http_methods(["GET", "POST"])
def member_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        _require_administrator(request, "invite members")
        if form.is_valid():
            try:
                services.membership_invite(
                    tenant=membership.tenant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                    login_url=request.build_absolute_uri(reverse("account_login")),
                )
            except ValidationError as exc:
                form.add_error("email", exc)
            else:
                messages.success(
                    request, f"{form.cleaned_data['email']} was invited by email."
                )
                return redirect("tenants:members")

    members = tenant_scoped(Membership.objects, membership).select_related("user")
    return render(
        request,
        "tenants/member_list.html",
        {"form": form, "members": members.order_by("user__email"), "roles": Membership.Role.choices},
    )


@login_required
@require_POST
def member_update(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = get_for_member_or_404(
        request, Membership.objects.select_related("user", "tenant"), pk=membership_id
    )
    _require_administrator(request, "change members")
    try:
        if "_remove" in request.POST:
            services.membership_remove(membership=member, actor=request.user)
            messages.success(request, f"{member.user.email} was removed.")
        else:
            form = RoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, _errors(ValidationError(form.errors["role"])))
                return redirect("tenants:members")
            services.membership_change_role(
                membership=member, role=form.cleaned_data["role"], actor=request.user
            )
            messages.success(request, f"{member.user.email}'s role was saved.")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("tenants:members")


@login_required
@require_http_methods(["GET", "POST"])
def application_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = ApplicationCreateForm(request.POST or None, tenant=membership.tenant)
    if request.method == "POST":
        _require_administrator(request, "create applications")
        if form.is_valid():
            application = services.application_create(
                tenant=membership.tenant,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                actor=request.user,
            )
            messages.success(request, f"Application {application.name} created.")
            return redirect("tenants:application", application_id=application.pk)

    applications = visible_to(Application.objects, membership).select_related("token")
    return render(
        request,
        "tenants/application_list.html",
        {"form": form, "applications": applications},
    )


def _application_page(
    request: HttpRequest, application: Application, **forms: object
) -> HttpResponse:
    context = {
        "application": application,
        "designs": request.membership.designs(application),
        "tokens": application.tokens.order_by("name"),
        "rename_form": ApplicationNameForm(
            tenant=application.tenant, instance=application, initial={"name": application.name}
        ),
        "designers_form": DesignersForm(application=application),
        "token_form": TokenChoiceForm(application=application),
        "api_keys": application.api_keys.all(),
    }
    context.update(forms)
    return render(request, "tenants/application_detail.html", context)


@login_required
@require_GET
def application_detail(request: HttpRequest, application_id: str) -> HttpResponse:
    application = get_for_member_or_404(
        request, Application.objects.select_related("tenant", "token"), pk=application_id
    )
    return _application_page(request, application)


@login_required
@require_POST
def application_rename(request: HttpRequest, application_id: str) -> HttpResponse:
    application = get_for_member_or_404(
        request, Application.objects.select_related("tenant"), write=True, pk=application_id
    )
    form = ApplicationNameForm(request.POST, tenant=application.tenant, instance=application)
    if not form.is_valid():
        return _application_page(request, application, rename_form=form)
    application = services.application_rename(
        application=application, name=form.cleaned_data["name"], actor=request.user
    )
    messages.success(request, f"Application renamed to {application.name}.")
    return redirect("tenants:application", application_id=application.pk)


@login_required
@require_POST
def application_designers(request: HttpRequest, application_id: str) -> HttpResponse:
    application = get_for_member_or_404(
        request, Application.objects.select_related("tenant"), write=True, pk=application_id
    )
    form = DesignersForm(request.POST, application=application)
    if not form.is_valid():
        return _application_page(request, application, designers_form=form)
    services.application_set_designers(
        application=application,
        designers=list(form.cleaned_data["designers"]),
        actor=request.user,
    )
    messages.success(request, f"Designers of {application.name} saved.")
    return redirect("tenants:application", application_id=application.pk)


@login_required
@require_POST
def application_token(request: HttpRequest, application_id: str) -> HttpResponse:
    application = get_for_member_or_404(
        request, Application.objects.select_related("tenant"), pk=application_id
    )
    if not request.membership.designs(application):
        raise deny(request, f"Only designers of {application.name} may choose its token.")
    form = TokenChoiceForm(request.POST, application=application)
    if not form.is_valid():
        return _application_page(request, application, token_form=form)
    services.application_choose_token(
        application=application, token=form.cleaned_data["token"], actor=request.user
    )
    messages.success(request, f"Token choice of {application.name} saved.")
    return redirect("tenants:application", application_id=application.pk)


@login_required
@require_http_methods(["GET", "POST"])
def application_delete(request: HttpRequest, application_id: str) -> HttpResponse:
    application = get_for_member_or_404(
        request, Application.objects, write=True, pk=application_id
    )
    if request.method == "POST":
        deleted = services.application_delete(application=application, actor=request.user)
        messages.success(
            request,
            f"Application {application.name} deleted"
            + (f" with its tokens {', '.join(deleted)}." if deleted else "."),
        )
        return redirect("tenants:applications")
    return render(
        request,
        "tenants/application_confirm_delete.html",
        {"application": application, "tokens": application.tokens.order_by("name")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_key_list(request: HttpRequest) -> HttpResponse:
    membership = _require_administrator(request, "manage API keys")
    form = ApiKeyForm(request.POST or None, tenant=membership.tenant)
    created_key = None
    if request.method == "POST" and form.is_valid():
        api_key, created_key = services.api_key_create(
            tenant=membership.tenant,
            name=form.cleaned_data["name"],
            application=form.cleaned_data["application"],
            actor=request.user,
        )
        form = ApiKeyForm(tenant=membership.tenant)

    keys = visible_to(ApiKey.objects, membership).select_related("application")
    response = render(
        request,
        "tenants/api_key_list.html",
        {"form": form, "api_keys": keys, "created_key": created_key},
    )
    if created_key:
        # The key is shown once, in this response, which no cache may keep.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, api_key_id: str) -> HttpResponse:
    api_key = get_for_member_or_404(request, ApiKey.objects, pk=api_key_id)
    _require_administrator(request, "revoke API keys")
    services.api_key_revoke(api_key=api_key, actor=request.user)
    messages.success(request, f"API key {api_key.name} was revoked.")
    return redirect("tenants:api_keys")


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    membership = _require_administrator(request, "read the audit log")
    form = AuditFilterForm(request.GET or None)
    events = tenant_scoped(AuditEvent.objects, membership).select_related(
        "actor", "api_key"
    )
    if form.is_bound and form.is_valid():
        events = form.filter(events)
    elif form.is_bound:
        events = events.none()

    page = Paginator(events.order_by("-created_at", "-pk"), AUDIT_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tenants/audit_log.html",
        {
            "form": form,
            "page": page,
            "labels": ACTION_LABELS,
            "query": query.urlencode(),
        },
    )
