"""The one place that scopes reads to the current tenant."""

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.core.exceptions import PermissionDenied

from tenants.models import Membership


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


def get_for_member_or_404(
    request: HttpRequest, queryset: QuerySet, *, write: bool = False, **lookup: object
) -> Model:
    """Return one row of the current tenant, or raise 404 for anyone outside it.

    A row of another tenant gets the same 404 as a missing one, so ids reveal
    nothing. Writes need the administrator role.
    """
    membership = request.membership
    if membership is None:
        raise Http404
    try:
        obj = tenant_scoped(queryset, membership).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise Http404 from None
    if write and not membership.is_administrator:
        raise PermissionDenied
    return obj
