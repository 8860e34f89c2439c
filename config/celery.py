"""The Celery app and its beat schedule."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("manage_center")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "renew-due-tokens-every-minute": {
        "task": "tokens.tasks.renew_due_tokens_task",
        "schedule": 60.0,
    },
}
