"""The Django admin of webhooks: add, change and switch them off; read their deliveries.

The secret is write-only: the form asks for it (a new webhook gets one made when it is left
empty, shown once in a message), never shows it back, and keeps the stored one when the field
is left empty on a change.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from patronsync.accounts.adminroles import RoleAdmin

from .choices import JobEndEvent
from .models import Webhook, WebhookDelivery
from .services import webhook_url_check


class WebhookForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https", label="URL")
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="The HMAC-SHA256 key the receiver verifies X-Patronsync-Signature with. "
        "Left empty: a new webhook gets one made (shown once); a changed one keeps its own.",
    )
    events = forms.MultipleChoiceField(
        choices=JobEndEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every job end.",
    )

    class Meta:
        model = Webhook
        fields = ["institution", "url", "secret", "events", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["secret"] = ""  # never rendered back, not even in the form's data

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhook_url_check(url)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return url

    def clean_secret(self) -> str:
        return self.cleaned_data.get("secret") or ""


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ("sent_at", "job", "event", "attempt", "status_code", "error")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-sent_at", "-id"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("job")


@admin.register(Webhook)
class WebhookAdmin(RoleAdmin):
    """Webhooks of the institutions one configures, with the log of their deliveries."""

    form = WebhookForm
    list_display = ["url", "institution", "active", "events", "created_at"]
    list_filter = [("institution", admin.RelatedOnlyFieldListFilter), "active"]
    inlines = [WebhookDeliveryInline]

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        typed = form.cleaned_data.get("secret") or ""
        if change and not typed:
            # Keep the stored secret: the form showed it as empty.
            obj.secret = Webhook.objects.get(pk=obj.pk).secret
        elif not typed:
            obj.secret = secrets.token_urlsafe(32)
            messages.warning(
                request, f"Copy the webhook's secret now, it is not shown again: {obj.secret}"
            )
        obj.updated_by = request.user.get_username()
        super().save_model(request, obj, form, change)
