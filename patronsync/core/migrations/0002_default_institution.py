"""A fresh install starts with one institution, seeded with Alma's standard code tables."""

from django.db import migrations

from patronsync.core.seeds import seed_code_tables


def create_default_institution(apps, schema_editor):
    Institution = apps.get_model("core", "Institution")
    CodeTableEntry = apps.get_model("core", "CodeTableEntry")
    institution, _ = Institution.objects.get_or_create(
        code="main", defaults={"name": "Main library", "time_zone": "UTC"}
    )
    seed_code_tables(entry_model=CodeTableEntry, institution=institution)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(create_default_institution, migrations.RunPython.noop)]
