import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q, QuerySet
from django.db.models.expressions import Col
from django.db.models.options import Options

from tenants.models import ApiKey
from tokens.models import AccessToken, RenewalRate, TokenStatus


def tokens_due_for_renewal(*, now: datetime) -> QuerySet[AccessToken]:
    """Return the tokens whose next renewal time has come, most overdue first.

    The filter repeats the condition of the partial index token_renewal_due_idx
    word for word, which is what lets PostgreSQL read only the due rows.
    """
    return AccessToken.objects.filter(
        next_renewal_at__lte=now,
        status__in=[TokenStatus.CONNECTED, TokenStatus.RENEWAL_FAILING],
        renewal_rate__gt=RenewalRate.DISABLED,
    ).order_by("next_renewal_at")


def api_key_get_for_call(*, prefix: str, token_id: UUID | None) -> ApiKey | None:
    """Return the API key with this prefix, and the route's token, in one query.

    The key's `requested_token` is the token with id token_id when the key may use
    it, and None when it may not or when no such token exists: every key may use its
    tenant's global tokens, and a key of an application may also use that
    application's tokens, the rule of tenants.selectors.tokens_choosable_for. The
    token is read fresh from the database. Returns None when no key has the prefix.
    """
    lookup = _call_lookup(DEFAULT_DB_ALIAS)
    connection = connections[DEFAULT_DB_ALIAS]
    token_param = AccessToken._meta.pk.get_db_prep_value(token_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(lookup.sql, [token_param, prefix])
        row = cursor.fetchone()
    if row is None:
        return None

    values = [
        _converted(value, converters, connection)
        for value, converters in zip(row, lookup.converters)
    ]
    key_count = len(lookup.key_names)
    api_key = ApiKey.from_db(DEFAULT_DB_ALIAS, lookup.key_names, values[:key_count])
    token_values = values[key_count:]
    api_key.requested_token = (
        AccessToken.from_db(DEFAULT_DB_ALIAS, lookup.token_names, token_values)
        if token_values[0] is not None
        else None
    )
    return api_key


# The columns an activity call reads; the rest stay deferred. Each timestamp column
# costs a parse in Python, so reading all of them cost more than the query itself.
_CALL_KEY_FIELDS = (
    "id", "tenant", "application", "name", "prefix", "digest", "revoked_at",
)
_CALL_TOKEN_FIELDS = (
    "id", "tenant", "application", "name", "flavour", "portal_url", "cloud_id",
    "site_url", "status", "renewal_rate", "access_token_encrypted",
    "access_token_expires_at", "scopes",
)


@dataclass(frozen=True)
class _CallLookup:
    sql: str
    key_names: list[str]
    token_names: list[str]
    converters: list[list[tuple[Callable, Col]]]


@functools.cache
def _call_lookup(alias: str) -> _CallLookup:
    """Build the SQL of api_key_get_for_call once per process.

    Every API call runs this lookup, and the ORM spends several times longer building
    the equivalent FilteredRelation query than the database spends executing it. So
    the SQL is written out, from the models' own table and column names.
    """
    connection = connections[alias]
    quote = connection.ops.quote_name
    keys, tokens = ApiKey._meta, AccessToken._meta

    def column(meta: Options, name: str) -> str:
        return quote(meta.get_field(name).column)

    # Model.from_db() takes a subset of the columns in the model's field order.
    key_fields = [f for f in keys.concrete_fields if f.name in _CALL_KEY_FIELDS]
    token_fields = [f for f in tokens.concrete_fields if f.name in _CALL_TOKEN_FIELDS]
    selected = [(f, "k") for f in key_fields] + [(f, "t") for f in token_fields]
    sql = (
        "SELECT "
        + ", ".join(f"{table}.{quote(f.column)}" for f, table in selected)
        + f" FROM {quote(keys.db_table)} k LEFT JOIN {quote(tokens.db_table)} t"
        f" ON t.{column(tokens, 'tenant')} = k.{column(keys, 'tenant')}"
        f" AND t.{column(tokens, 'id')} = %s"
        f" AND (t.{column(tokens, 'application')} IS NULL"
        f" OR t.{column(tokens, 'application')} = k.{column(keys, 'application')})"
        f" WHERE k.{column(keys, 'prefix')} = %s"
    )
    converters = []
    for field, _ in selected:
        col = field.get_col(field.model._meta.db_table)
        found = connection.ops.get_db_converters(col)
        found += col.get_db_converters(connection)
        converters.append([(converter, col) for converter in found])
    return _CallLookup(
        sql=sql,
        key_names=[f.attname for f in key_fields],
        token_names=[f.attname for f in token_fields],
        converters=converters,
    )


def _converted(
    value: object, converters: list, connection: BaseDatabaseWrapper
) -> object:
    for converter, col in converters:
        value = converter(value, col, connection)
    return value


def token_secret_problems(token: AccessToken) -> list[str]:
    """Return why each stored secret of the token cannot be decrypted, if any.

    A token in this state still lists and deletes; its secrets stay as stored until
    the missing key is configured again or an administrator enters new ones.
    """
    from tokens.encryption import DecryptionError

    problems = []
    for field in AccessToken.SECRET_FIELDS:
        try:
            token.get_secret(field)
        except DecryptionError as exc:
            label = field.replace("_", " ").capitalize()
            problems.append(f"{label} cannot be decrypted: {exc}")
    return problems
