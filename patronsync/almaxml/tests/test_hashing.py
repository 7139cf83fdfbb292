"""Content hash: stable under reordering, whitespace and desc; different when data differs."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from patronsync.almaxml import Code, User, iter_users
from patronsync.almaxml.hashing import content_hash
from patronsync.almaxml.tests.strategies import users

A = b"""<users><user>
  <primary_id>p1</primary_id><first_name>Ada</first_name>
  <user_group desc="Graduate">GRAD</user_group>
  <expiry_date>2030-01-31</expiry_date>
  <user_identifiers>
    <user_identifier><id_type>BARCODE</id_type><value>b1</value></user_identifier>
    <user_identifier><id_type>UNIV_ID</id_type><value>u1</value></user_identifier>
  </user_identifiers>
</user></users>"""
B = b"""<users>
<user>
  <user_identifiers>
    <user_identifier><value>  u1 </value><id_type desc="University ID">UNIV_ID</id_type>
    </user_identifier>
    <user_identifier><id_type>BARCODE</id_type><value>b1</value></user_identifier>
  </user_identifiers>
  <expiry_date>2030-01-31Z</expiry_date>
  <user_group>GRAD</user_group>
  <first_name>
     Ada
  </first_name>
  <primary_id>p1</primary_id>
</user></users>"""


def _user(data: bytes) -> User:
    return next(iter(iter_users(data))).user


def test_hash_ignores_order_whitespace_desc_and_date_spelling() -> None:
    assert content_hash(_user(A)) == content_hash(_user(B))


def test_hash_differs_when_a_value_differs() -> None:
    changed = A.replace(b"<value>u1</value>", b"<value>u2</value>")
    assert content_hash(_user(A)) != content_hash(_user(changed))


def test_hash_differs_when_primary_id_case_differs() -> None:
    changed = A.replace(b"<primary_id>p1", b"<primary_id>P1")
    assert content_hash(_user(A)) != content_hash(_user(changed))


def test_hash_counts_duplicate_segments() -> None:
    user = _user(A)
    doubled = dataclasses.replace(user, user_identifiers=user.user_identifiers * 2)
    assert content_hash(user) != content_hash(doubled)


def test_hash_ignores_blank_text_inside_researcher() -> None:
    one = User(primary_id="p", researcher="<researcher><a>x</a></researcher>")
    two = User(primary_id="p", researcher="<researcher>\n  <a>x</a>\n</researcher>")
    assert content_hash(one) == content_hash(two)


@settings(max_examples=100, deadline=None)
@given(users, st.randoms())
def test_hash_is_stable_when_segments_are_shuffled(user: User, rnd) -> None:
    shuffled = dataclasses.replace(user)
    for name in ("addresses", "emails", "phones", "user_identifiers", "user_notes"):
        items = list(getattr(user, name))
        rnd.shuffle(items)
        setattr(shuffled, name, items)
    assert content_hash(shuffled) == content_hash(user)


@settings(max_examples=100, deadline=None)
@given(users)
def test_hash_changes_when_a_code_value_changes(user: User) -> None:
    other = dataclasses.replace(user, user_group=Code("NEVER-GENERATED-GROUP"))
    assert content_hash(other) != content_hash(user)
