"""API keys get scopes in place of the read-only flag.

A read-only key gets `users:read`; a read-write key `users:read users:write`. No existing key
gets `config:write`: changing connections and profiles was the finding this closes, so a key
that must do it is given the scope on purpose (the admin's API key page, or a new key made with
`patronsync apikey create --scope config:write`).
"""

from django.db import migrations, models

import patronsync.accounts.models


def read_only_to_scopes(apps, schema_editor):
    ApiKey = apps.get_model("accounts", "ApiKey")
    ApiKey.objects.filter(read_only=True).update(scopes="users:read")
    ApiKey.objects.filter(read_only=False).update(scopes="users:read users:write")


def scopes_to_read_only(apps, schema_editor):
    ApiKey = apps.get_model("accounts", "ApiKey")
    for api_key in ApiKey.objects.all():
        writes = {"users:write", "config:write"} & set(api_key.scopes.split())
        api_key.read_only = not writes
        api_key.save(update_fields=["read_only"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apikey"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scopes",
            field=models.CharField(
                default="users:read",
                help_text="Space-separated: users:read, users:write, config:write.",
                max_length=100,
                validators=[patronsync.accounts.models.validate_scopes],
            ),
        ),
        migrations.RunPython(read_only_to_scopes, scopes_to_read_only),
        migrations.RemoveField(model_name="apikey", name="read_only"),
    ]
