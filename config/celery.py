"""The Celery app, its beat schedule and the checks its processes run at start."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, task_postrun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("manage_center")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()



@app.on_after_configure.connect
def schedule_sweeps(sender: Celery, **kwargs: Any) -> None:
    """Set the beat schedule once settings are loaded."""
    from django.conf import settings

    interval = float(settings.TOKEN_RENEWAL_SWEEP_SECONDS)
    sender.conf.beat_schedule = {
        "renew-due-tokens": {
            "task": "tokens.tasks.renew_due_tokens_task",
            "schedule": interval,
            # A sweep that waited longer than its interval gives way to the next.
            "options": {"expires": interval},
        },
        "flush-usage-counters": {
            "task": "tenants.tasks.flush_usage_task",
            "schedule": 30.0,
            "options": {"expires": 30.0},
        },
    }


@worker_init.connect
@beat_init.connect
def refuse_unreadable_secrets(**kwargs: Any) -> None:
    """Stop a worker or beat whose encryption keys cannot open the stored secrets."""
    from django.db import connections

    from tokens.keycheck import stored_secrets_problem

    problem = stored_secrets_problem()
    # Beat and the pool processes are forked after this runs; a database
    # connection shared across a fork breaks (SQLite answers "disk I/O error").
    connections.close_all()
    if problem:
        # Celery logs and swallows exceptions from signal handlers; SystemExit
        # is the one that stops the process.
        raise SystemExit(f"Refusing to start: {problem}")


@worker_process_init.connect
def keep_database_connection(**kwargs: Any) -> None:
    """Let each pool process keep its database connection between tasks."""
    from django.conf import settings
    from django.db import connections

    max_age = settings.CELERY_WORKER_DB_CONN_MAX_AGE
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = max_age
        connections[alias].close()


@task_postrun.connect
def close_stale_database_connections(**kwargs: Any) -> None:
    """Close connections that broke or outlived CONN_MAX_AGE, as after a request."""
    from django.db import close_old_connections

    close_old_connections()
