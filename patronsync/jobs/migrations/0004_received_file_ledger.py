# The ReceivedFile ledger: one row per taking of a file, found by (profile, sha256).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_default_institution'),
        ('jobs', '0003_job_cancel'),
        ('profiles', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='receivedfile',
            options={'ordering': ['-received_at', '-id']},
        ),
        migrations.RemoveConstraint(
            model_name='receivedfile',
            name='file_once_per_profile',
        ),
        migrations.AlterField(
            model_name='receivedfile',
            name='status',
            field=models.CharField(choices=[('processing', 'Processing'), ('handled', 'Handled'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], max_length=12),
        ),
        migrations.AddIndex(
            model_name='receivedfile',
            index=models.Index(fields=['profile', 'sha256'], name='received_file_content'),
        ),
    ]
