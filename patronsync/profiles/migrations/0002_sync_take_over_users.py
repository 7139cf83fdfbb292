from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="integrationprofile",
            name="sync_take_over_users",
            field=models.BooleanField(
                default=False,
                help_text="Whether a Synchronize may match users another profile loaded (their "
                "external ID is that profile's code) and make them this profile's; off, it "
                "rejects them (OTHER_PROFILES_USER).",
            ),
        ),
    ]
