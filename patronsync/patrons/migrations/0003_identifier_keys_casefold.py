"""Primary IDs are unique through their identifier row alone, whose key is now NFC and
case-folded in Python (`limits.identifier_key`): the `lower()` index of the database goes, and
stored keys of non-ASCII values are computed again (ASCII keys do not change)."""

import unicodedata

from django.db import migrations


def _key(value):
    text = value.strip()
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def recompute_keys(apps, schema_editor):
    """Each non-ASCII identifier gets its new key, unless another row holds that key already
    (two values the new folding makes one, e.g. `STRASSE` and `straße`): that row keeps its old key,
    and the users are named, for staff to resolve."""
    identifiers = apps.get_model("patrons", "PatronIdentifier")
    rows = identifiers.objects.order_by("id").values_list(
        "id", "institution_id", "value", "value_key"
    )
    changed = [
        (pk, institution_id, key)
        for pk, institution_id, value, old in rows.iterator(chunk_size=20_000)
        if not value.isascii() and (key := _key(value)) != old
    ]
    for pk, institution_id, key in changed:
        clash = identifiers.objects.filter(institution_id=institution_id, value_key=key).exclude(
            pk=pk
        )
        if clash.exists():
            row = identifiers.objects.select_related("patron").get(pk=pk)
            other = clash.select_related("patron").first()
            print(
                f"\n  patrons: identifier {row.value!r} of user {row.patron.primary_id} and "
                f"{other.value!r} of user {other.patron.primary_id} are now the same value; "
                "the first keeps its old key until staff change one of them"
            )
            continue
        identifiers.objects.filter(pk=pk).update(value_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("patrons", "0002_identifier_institution_no_index"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="patron",
            name="primary_id_unique_ci",
        ),
        migrations.RunPython(recompute_keys, migrations.RunPython.noop, elidable=True),
    ]
