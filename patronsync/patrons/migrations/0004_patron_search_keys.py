"""Search keys on users: the names and the preferred email, folded for case- and accent-free
prefix search (`patrons.search`), each in an indexed column. The keys of existing users are
computed here, in batches, before the indexes are built."""

import unicodedata

from django.db import migrations, models

BATCH = 5_000
_DROPPED = str.maketrans("", "", "'\u2019`\u00b4")
_SPACES = str.maketrans({"-": " ", ",": " ", "\u2010": " ", "\u2013": " "})
# Letters that Unicode does not decompose into a base letter and a mark, read as people type them.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "æ": "ae",
        "œ": "oe",
        "\u0131": "i",
        "ħ": "h",
    }
)


def _key(text):
    # A frozen copy of `patrons.search.search_key` as of this migration.
    if text.isascii():
        folded = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LETTERS)
    return " ".join(folded.translate(_DROPPED).translate(_SPACES).split())[:255]


def _email(segments):
    emails = (segments or {}).get("email") or []
    for item in emails:
        if item.get("preferred") and item.get("email_address"):
            return str(item["email_address"])
    for item in emails:
        if item.get("email_address"):
            return str(item["email_address"])
    return ""


def fill_keys(apps, schema_editor):
    """Compute every user's keys, a batch of ids at a time, with one prepared UPDATE a batch."""
    patron_model = apps.get_model("patrons", "Patron")
    connection = schema_editor.connection
    table = connection.ops.quote_name(patron_model._meta.db_table)
    sql = (
        f"UPDATE {table} SET last_name_key = %s, first_name_key = %s, email_key = %s "  # noqa: S608
        "WHERE id = %s"
    )
    last = 0
    while True:
        rows = list(
            patron_model.objects.filter(id__gt=last)
            .order_by("id")
            .values_list("id", "last_name", "first_name", "segments")[:BATCH]
        )
        if not rows:
            return
        with connection.cursor() as cursor:
            cursor.executemany(
                sql,
                [(_key(ln), _key(fn), _key(_email(seg)), pk) for pk, ln, fn, seg in rows],
            )
        last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_institution_api_thresholds"),
        ("patrons", "0003_identifier_keys_casefold"),
    ]

    operations = [
        migrations.AddField(
            model_name="patron",
            name="email_key",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AddField(
            model_name="patron",
            name="first_name_key",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AddField(
            model_name="patron",
            name="last_name_key",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="patron",
            index=models.Index(
                fields=["institution", "last_name_key", "first_name_key"],
                name="patron_last_name_key",
                opclasses=["int8_ops", "varchar_pattern_ops", "varchar_pattern_ops"],
            ),
        ),
        migrations.AddIndex(
            model_name="patron",
            index=models.Index(
                fields=["institution", "first_name_key"],
                name="patron_first_name_key",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ),
        migrations.AddIndex(
            model_name="patron",
            index=models.Index(
                fields=["institution", "email_key"],
                name="patron_email_key",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ),
    ]
