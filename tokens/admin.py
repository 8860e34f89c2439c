from django.contrib import admin

from tokens.models import AccessToken, AuditEvent


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "application", "status", "access_token_expires_at"]
    list_filter = ["status", "renewal_rate"]
    # Ciphertexts stay out of the admin entirely; the configuration screen edits them.
    exclude = [
        "consumer_secret_encrypted",
        "access_token_encrypted",
        "refresh_token_encrypted",
    ]
    readonly_fields = ["cloud_id", "site_url", "scopes", "access_token_expires_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "token_name", "action", "actor"]
    list_filter = ["action"]
