"""Fast bulk writes for the sync engine: COPY or `executemany` instead of the ORM's per-row SQL.

Django's `bulk_create` and `bulk_update` compile SQL for every row and split wide rows into many
small statements (SQLite's variable limit). For batches of thousands of users that costs more
than the database itself, so the engine writes through these helpers. They convert values the way
the model fields do, then insert with COPY on PostgreSQL and with one prepared statement on
SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.utils import timezone

Converter = Callable[[Any], Any]


def _converter(field: models.Field) -> Converter | None:
    """How a field's Python value becomes a database parameter; None when it passes as is.

    The backend's own adapters, called directly: Django's `get_db_prep_save` reaches them through
    several layers per value, which a batch of thousands of users pays hundreds of thousands of
    times. Values here are already of the field's type (the services built them).
    """
    ops = connection.ops
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: ops.adapt_json_value(value, encoder)
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value  # type: ignore[no-any-return]
    if isinstance(field, models.DateField):
        return None if connection.vendor == "postgresql" else ops.adapt_datefield_value
    return None


def _columns(model: type[models.Model], names: Sequence[str] | None, *, with_pk: bool):  # type: ignore[no-untyped-def]
    fields = [
        f
        for f in model._meta.concrete_fields
        if (with_pk or not f.primary_key) and (names is None or f.name in names or f.primary_key)
    ]
    return fields, [_converter(f) for f in fields]


def _rows(
    objs: Sequence[models.Model],
    fields: list[models.Field],
    converters: list[Converter | None],
    add: bool,
    now: datetime | None = None,
) -> list[list[Any]]:
    """The objects' values as parameter rows; automatic timestamps are one "now" for all
    (`now`, or the current time).

    The objects' own timestamp attributes are left as they were.
    """
    now = now or timezone.now()
    stamped = {
        field.attname: converter(now) if converter is not None else now
        for field, converter in zip(fields, converters, strict=True)
        if isinstance(field, models.DateTimeField)
        and (field.auto_now or (add and field.auto_now_add))
    }
    columns = [
        (field.attname, stamped.get(field.attname), convert)
        for field, convert in zip(fields, converters, strict=True)
    ]
    rows = []
    for obj in objs:
        row = []
        for attname, stamp, convert in columns:
            if stamp is not None:
                row.append(stamp)
                continue
            value = getattr(obj, attname)
            row.append(convert(value) if convert is not None and value is not None else value)
        rows.append(row)
    return rows


def analyze(*models_: type[models.Model]) -> None:
    """Refresh PostgreSQL's planner statistics of these tables after bulk writes.

    Without them, a lookup of thousands of identifiers right after a large import can be planned
    as a scan of the whole table (autovacuum may be slow to analyze, or switched off). SQLite
    plans these lookups on its indexes without statistics.
    """
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models_)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve `count` primary keys for rows about to be inserted with `bulk_insert`.

    On PostgreSQL they come from the table's sequence; on SQLite, where the write transaction
    holds the database lock, they follow the highest id ever used (sqlite_sequence).
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(highest, row[0] if row else 0) + 1
        return list(range(start, start + count))


def bulk_insert(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    with_pk: bool = False,
    now: datetime | None = None,
) -> None:
    """INSERT every object at once. With `with_pk`, the objects' primary keys (from
    `allocate_ids`) are written; otherwise the database assigns them (and they stay None)."""
    if not objs:
        return
    fields, converters = _columns(model, None, with_pk=with_pk)
    rows = _rows(objs, fields, converters, True, now)
    _insert(model._meta.db_table, [str(f.column) for f in fields], rows)


def bulk_update(
    model: type[models.Model],
    objs: Sequence[models.Model],
    names: Sequence[str],
    *,
    now: datetime | None = None,
) -> None:
    """UPDATE the named fields of every object, one prepared statement, by primary key.

    Automatic timestamps among them are set to `now` (or the current time)."""
    if not objs:
        return
    fields, converters = _columns(model, names, with_pk=False)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    table = quote(model._meta.db_table)
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608
    values = _rows(objs, fields, converters, False, now)
    rows = [[*row, obj.pk] for row, obj in zip(values, objs, strict=True)]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_rows(
    model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT rows of plain values into the named fields (attnames, e.g. `patron_id`).

    Cheaper than building model instances when a batch writes tens of thousands of rows; JSON,
    date and datetime values are converted as their fields would.
    """
    if not rows:
        return
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[name] for name in names]
    converters = [_converter(f) for f in fields]
    if any(converters):
        rows = [
            [v if c is None or v is None else c(v) for v, c in zip(row, converters, strict=True)]
            for row in rows
        ]
    _insert(model._meta.db_table, [str(f.column) for f in fields], rows)


def _insert(table: str, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
    """COPY on PostgreSQL (several times faster than row-by-row binds), executemany elsewhere."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            # psycopg's own errors become Django's (IntegrityError, DataError), as they do
            # through Django's cursor, so callers catch one kind.
            with (
                connection.wrap_database_errors,
                raw.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)  # noqa: S608
