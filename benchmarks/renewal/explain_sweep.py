"""Time the renewal sweep's query on 1,000,000 tokens with 1% due.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m benchmarks.renewal.explain_sweep

Creates the scratch database renewal_explain next to DATABASE_URL's, migrates
it, fills it with SQL, prints EXPLAIN (ANALYZE) of the sweep's first batch with
the partial index and then with a plain index on next_renewal_at alone, and
drops the database at the end.
"""

import os
import sys
import time

import psycopg

ROWS = 1_000_000
DUE_PERCENT = 1
SCRATCH = "renewal_explain"
RUNS = 20


def main() -> int:
    admin_url = os.environ["DATABASE_URL"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        admin.execute(f"CREATE DATABASE {SCRATCH}")
    scratch_url = admin_url.rsplit("/", 1)[0] + f"/{SCRATCH}"
    os.environ["DATABASE_URL"] = scratch_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        return _run(scratch_url)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


def _run(scratch_url: str) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from tokens.selectors import tokens_due_for_renewal

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tenants_tenant (id, name, created_at) "
            "VALUES (gen_random_uuid(), 'Bench', now()) RETURNING id"
        )
        tenant_id = cursor.fetchone()[0]
        # Every 100th row is due; the rest are due in the coming hour.
        cursor.execute(
            """
            INSERT INTO tokens_accesstoken (
                id, tenant_id, name, flavour, portal_url, consumer_key,
                consumer_secret_encrypted, callback_url, description,
                access_token_encrypted, refresh_token_encrypted, scopes, cloud_id,
                site_url, renewal_rate, status, next_renewal_at, last_error,
                use_count, version, renewal_failures, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'Token ' || n, 'cloud',
                'https://x.atlassian.net', 'key', '', 'https://cb', '', '', '',
                '', '', '', 15, 'connected',
                CASE WHEN n %% %s = 0 THEN now() - interval '1 minute'
                     ELSE now() + (n %% 3600) * interval '1 second' + interval '1 minute'
                END,
                '', 0, 0, 0, now(), now()
            FROM generate_series(1, %s) AS n
            """,
            [tenant_id, 100 // DUE_PERCENT, ROWS],
        )
        cursor.execute("ANALYZE tokens_accesstoken")

    query = tokens_due_for_renewal(now=timezone.now()).select_for_update(
        skip_locked=True, no_key=True
    ).values_list("pk", flat=True)[:500]
    from django.db import transaction

    with transaction.atomic():
        sql, params = query.query.sql_with_params()
    print(f"{ROWS} tokens, {DUE_PERCENT}% due; the sweep's first batch:\n{sql}\n")
    _explain(connection, sql, params, "partial index token_renewal_due_idx")

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX token_renewal_due_idx")
        cursor.execute(
            "CREATE INDEX token_next_renewal_plain "
            "ON tokens_accesstoken (next_renewal_at)"
        )
        cursor.execute("ANALYZE tokens_accesstoken")
    _explain(connection, sql, params, "plain index on next_renewal_at")
    return 0


def _explain(connection, sql: str, params: tuple, label: str) -> None:
    from django.db import transaction

    timings = []
    plan = ""
    for _ in range(RUNS):
        with transaction.atomic(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            timings.append((time.perf_counter() - started) * 1000)
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    timings.sort()
    print(f"== {label}: median {timings[len(timings) // 2]:.2f} ms over {RUNS} runs")
    print(plan, "\n")


if __name__ == "__main__":
    sys.exit(main())
