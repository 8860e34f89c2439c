from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "activities"

    def ready(self) -> None:
        from activities import schema  # noqa: F401  (registers the auth extension)
