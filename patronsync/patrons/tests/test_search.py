"""Finding users: by primary ID, identifier, name or email, without regard to case or accents,
through the search-key indexes."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection

from patronsync.jobs.services import profile_run
from patronsync.loader.tests.conftest import make_profile, user_xml, users_doc, write_zip
from patronsync.patrons.models import Patron
from patronsync.patrons.search import search_key
from patronsync.patrons.selectors import patron_search
from patronsync.patrons.services import Actor, patron_update
from patronsync.patrons.tests.factories import patron_factory

pytestmark = pytest.mark.django_db


def email(address):
    return {
        "email": [
            {"email_address": address, "email_type": [{"value": "school"}], "preferred": True}
        ],
        "address": [],
        "phone": [],
    }


def found(institution, query):
    return sorted(p.primary_id for p in patron_search(institution=institution, query=query))


@pytest.fixture
def people(institution):
    return {
        "mueller": patron_factory(
            institution,
            primary_id="p-mueller",
            first_name="Anna",
            last_name="Müller",
            contact_info=email("Anna.Mueller@Uni.example"),
            user_identifier=[{"id_type": {"value": "BARCODE"}, "value": "BC-7731"}],
        ),
        "upper": patron_factory(
            institution, primary_id="p-upper", first_name="Jörg", last_name="MÜLLER"
        ),
        "plain": patron_factory(
            institution, primary_id="p-plain", first_name="Zoë", last_name="Muller"
        ),
        "other": patron_factory(
            institution, primary_id="p-other", first_name="Anne", last_name="Schmidt"
        ),
    }


def test_search_key_folds_case_accents_ligatures_and_punctuation():
    assert search_key("  MÜLLER-Lüdenscheidt ") == "muller ludenscheidt"
    assert search_key("Straße") == "strasse"
    assert search_key("O'Brien") == "obrien"
    assert search_key("ﬁne Ǆ") == "fine dz"
    assert search_key("Zoë") == search_key("zoe") == "zoe"


def test_last_name_is_found_without_regard_to_case_or_accents(institution, people):
    for query in ("muller", "Müller", "MÜLLER", "mül", "MUL"):
        assert found(institution, query) == ["p-mueller", "p-plain", "p-upper"], query


def test_first_name_is_found_by_its_start(institution, people):
    assert found(institution, "zoe") == ["p-plain"]
    assert found(institution, "ann") == ["p-mueller", "p-other"]


def test_two_words_are_first_and_last_name_in_either_order(institution, people):
    assert found(institution, "anna mul") == ["p-mueller"]
    assert found(institution, "Müller, Anna") == ["p-mueller"]
    assert found(institution, "anne mul") == []


def test_primary_id_and_identifier_are_found_exactly_without_regard_to_case(institution, people):
    assert found(institution, "P-MUELLER") == ["p-mueller"]
    assert found(institution, "bc-7731") == ["p-mueller"]
    assert found(institution, "bc-773") == []


def test_preferred_email_is_found_by_its_start(institution, people):
    assert found(institution, "anna.mueller@uni") == ["p-mueller"]
    assert found(institution, "ANNA.MUELLER@UNI.EXAMPLE") == ["p-mueller"]


def test_other_institutions_users_are_not_found(institution, other_institution, people):
    patron_factory(other_institution, primary_id="p-branch", first_name="Anna", last_name="Müller")
    assert found(other_institution, "muller") == ["p-branch"]
    assert "p-branch" not in found(institution, "muller")


def test_empty_query_lists_everyone_and_nonsense_nobody(institution, people):
    assert len(found(institution, "  ")) == 4
    assert found(institution, "xyzzy") == []
    assert found(institution, "'-,") == []


def test_a_renamed_user_is_found_by_the_new_name_only(institution, people):
    patron_update(
        patron=people["other"], data={"last_name": "Ødegård"}, actor=Actor.system("tests")
    )
    assert found(institution, "odegard") == ["p-other"]
    assert found(institution, "schmidt") == []


def test_a_user_written_by_a_synchronize_is_found_by_its_accent_free_name(institution, tmp_path):
    for folder in ("import", "synchronize"):
        (tmp_path / folder).mkdir()
    profile = make_profile(institution, tmp_path)
    write_zip(
        tmp_path / "synchronize" / "day1.zip",
        {
            "users.xml": users_doc(
                user_xml("s1", first="Łukasz", last="Gruß-Żółć", email="LG@x.edu")
            )
        },
    )
    job = profile_run(profile=profile, kind="synchronize")
    assert job.created == 1
    assert found(institution, "lukasz gruss") == ["s1"]
    assert found(institution, "zolc") == []  # a later word of a last name is not its start
    assert found(institution, "gruss zolc") == ["s1"]
    assert found(institution, "LG@X.e") == ["s1"]


def _plan(queryset, patron):
    if connection.vendor == "postgresql":
        # A planner that sees four users reads them in any order: give the table 5,000 more
        # (copies of one user with other keys) and statistics, as a library's database has.
        columns = [f.column for f in Patron._meta.concrete_fields if f.column != "id"]
        keys = {"last_name_key", "first_name_key", "email_key", "primary_id"}
        values = [f"md5(g::text || '{c}')" if c in keys else c for c in columns]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO patrons_patron ({', '.join(columns)}) "
                f"SELECT {', '.join(values)} FROM patrons_patron, generate_series(1, 5000) g "
                "WHERE id = %s",
                [patron.pk],
            )
            cursor.execute("ANALYZE patrons_patron")
    return queryset.explain()


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("muller", "patron_last_name_key"),
        ("zoe", "patron_first_name_key"),
        ("anna.mueller@uni", "patron_email_key"),
        ("anna mul", "patron_last_name_key"),
    ],
)
def test_search_is_answered_from_the_search_key_indexes(institution, people, query, index):
    plan = _plan(patron_search(institution=institution, query=query), people["other"])
    assert index in plan
    if connection.vendor == "sqlite":
        assert "SCAN patrons_patron" not in plan
        assert f"USING COVERING INDEX {index} (institution_id=? AND" in plan
    else:
        assert "Seq Scan on patrons_patron " not in plan
        assert "~>=~" in plan  # the prefix is a range of the index, not a filter


def test_the_migration_fills_the_keys_of_users_stored_before_it(institution, people):
    from django.apps import apps

    migration = importlib.import_module("patronsync.patrons.migrations.0004_patron_search_keys")
    Patron.objects.update(last_name_key="", first_name_key="", email_key="")
    assert found(institution, "muller") == []
    migration.fill_keys(apps, SimpleNamespace(connection=connection))
    assert found(institution, "muller") == ["p-mueller", "p-plain", "p-upper"]
    row = Patron.objects.get(primary_id="p-mueller")
    assert (row.last_name_key, row.first_name_key) == ("muller", "anna")
    assert row.email_key == "anna.mueller@uni.example"
    assert migration._key("Ødegård-Straße") == search_key("Ødegård-Straße")
