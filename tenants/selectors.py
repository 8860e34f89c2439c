"""The one place that scopes reads to the current tenant."""

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest

from tenants.audit import audit_denial
from tenants.models import Application, Membership
from tokens.models import AccessToken


def membership_for_request(request: HttpRequest) -> Membership | None:
    """Return the signed-in user's membership in the tenant chosen for this session.

    The session keeps the chosen tenant; without a choice, the user's first
    membership is taken.
    """
    user = request.user
    if not user.is_authenticated:
        return None

    memberships = Membership.objects.select_related("tenant").filter(user=user)
    chosen = request.session.get("tenant_id")
    if chosen:
        membership = memberships.filter(tenant_id=chosen).first()
        if membership is not None:
            return membership
    return memberships.order_by("created_at").first()


def tenant_scoped(queryset: QuerySet, membership: Membership) -> QuerySet:
    return queryset.filter(tenant=membership.tenant)


def visible_to(queryset: QuerySet, membership: Membership) -> QuerySet:
    """Narrow a tenant's rows to those the member may see (Membership.may_read)."""
    queryset = tenant_scoped(queryset, membership)
    if membership.is_administrator:
        return queryset
    if queryset.model is Application:
        return queryset.filter(designers=membership.user_id)
    return queryset.filter(
        Q(application__isnull=True) | Q(application__designers=membership.user_id)
    ).distinct()


def deny(request: HttpRequest, detail: str) -> PermissionDenied:
    """Record a refused write in the audit log and return the exception to raise."""
    membership = request.membership
    if membership is not None:
        audit_denial(tenant_id=membership.tenant_id, actor=request.user, detail=detail)
    return PermissionDenied(detail)


def get_for_member_or_404(
    request: HttpRequest, queryset: QuerySet, *, write: bool = False, **lookup: object
) -> Model:
    """Return one row of the current tenant, or raise 404 for anyone outside it.

    A row of another tenant, or of an application an app designer does not
    design, gets the same 404 as a missing one, so ids reveal nothing. Writes need the administrator role, or the app designer role for a
    row of an application the member designs (Membership.may_write); a refused
    write is recorded in the audit log.
    """
    membership = request.membership
    if membership is None:
        raise Http404
    try:
        obj = tenant_scoped(queryset, membership).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise Http404 from None
    if not membership.may_read(obj):
        raise Http404
    if write and not membership.may_write(obj):
        raise deny(
            request,
            f"{membership.get_role_display()} may not change "
            f"{queryset.model._meta.verbose_name} {obj}.",
        )
    return obj


def applications_designed_by(membership: Membership) -> QuerySet[Application]:
    """Return the applications whose tokens and choice of token the member manages."""
    applications = Application.objects.filter(tenant_id=membership.tenant_id)
    if membership.is_administrator:
        return applications
    return applications.filter(designers=membership.user_id)


def tokens_choosable_for(application: Application) -> QuerySet[AccessToken]:
    """Return the tokens the application may use: its own and the global ones."""
    return AccessToken.objects.filter(tenant_id=application.tenant_id).filter(
        Q(application__isnull=True) | Q(application=application)
    )


def applications_using(token: AccessToken) -> QuerySet[Application]:
    """Return the applications that chose the token for their Jira activities."""
    return Application.objects.filter(tenant_id=token.tenant_id, token=token)
