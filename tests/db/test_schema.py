"""The shape of the schema: the properties of tables, indexes, constraints, functions, grants
and policies that the code and the security model rely on (the behaviour under RLS is in
test_rls.py)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

from tests.support.users import make_user
from utter.db import Database

# The shape is not restated column by column (the migrations say that once); these are the
# properties the code relies on, checked over every table so a new column is held to them too.

# Columns whose NULL would break a rule or a query that reads them without a fallback.
NOT_NULL = {
    "profiles": {"id", "subscription_tier", "credits_remaining", "created_at", "updated_at"},
    "voices": {"id", "user_id", "name", "language", "source", "created_at"},
    "generations": {"id", "user_id", "text", "language", "status", "speed", "created_at"},
    "tasks": {
        "id",
        "user_id",
        "type",
        "status",
        "metadata",
        "modal_poll_count",
        "chunks_done",
        "attempts",
        "audio_parts",
        "created_at",
        "updated_at",
    },
    "usage_daily": {"id", "user_id", "day", "characters", "transcription_seconds", "updated_at"},
}
# Must stay nullable: history outlives a deleted voice, tasks exist before their result,
# progress and audio, and a voice may be made before its reference is stored.
NULLABLE = {
    ("generations", "voice_id"),
    ("generations", "audio_object_key"),
    ("generations", "duration_seconds"),
    ("tasks", "generation_id"),
    ("tasks", "voice_id"),
    ("tasks", "result"),
    ("tasks", "chunks_total"),
    ("tasks", "started_at"),
    ("tasks", "heartbeat_at"),
    ("tasks", "completed_at"),
    ("voices", "reference_object_key"),
    ("voices", "reference_report"),
}
# Columns named like ids that hold another system's id, not one of ours.
FOREIGN_IDS = {("tasks", "modal_job_id"): "text", ("tasks", "queue_job_id"): "bigint"}
JSON_COLUMNS = {
    ("tasks", "metadata"),
    ("tasks", "result"),
    ("tasks", "audio_parts"),
    ("voices", "reference_report"),
}

DEFAULTS = {
    ("profiles", "subscription_tier"): "'free'::text",
    ("profiles", "credits_remaining"): "100",
    ("voices", "language"): "'Auto'::text",
    ("generations", "language"): "'Auto'::text",
    ("generations", "status"): "'pending'::text",
    ("tasks", "status"): "'pending'::text",
    ("tasks", "modal_poll_count"): "0",
    ("tasks", "metadata"): "'{}'::jsonb",
    ("tasks", "audio_parts"): "'[]'::jsonb",
    ("generations", "speed"): "1.0",
}

NAMED_INDEXES = {
    "idx_voices_user_created_id",
    "idx_voices_user_source_created_id",
    "idx_generations_user_created_id",
    "idx_generations_user_status_created_id",
    "idx_tasks_user_id",
    "idx_generations_voice_id",
    "idx_tasks_generation_id",
    "idx_tasks_voice_id",
    "idx_tasks_modal_job_id",
    "idx_tasks_active",
    "idx_tasks_generate_one_active_per_user",
    "idx_tasks_audio_parts_finished",
}

STUDIO_TABLES = ["profiles", "voices", "generations", "tasks", "usage_daily"]
EXPOSED_SCHEMAS = ("public", "storage")


@pytest.fixture(scope="module")
def conn(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def test_public_schema_and_uuid_generation_exist(conn: psycopg.Connection) -> None:
    # Only gen_random_uuid() is needed, and it is built into Postgres ≥ 13, so no
    # extension (pgcrypto) is required: the embedded wheel ships none.
    assert conn.execute("select to_regnamespace('public') is not null").fetchone() == (True,)
    value = conn.execute("select gen_random_uuid()").fetchone()
    assert value is not None and isinstance(value[0], uuid.UUID)


def _columns(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[str, bool]]:
    """(table, column) → (data type, nullable) for the studio tables."""
    rows = conn.execute(
        "select table_name, column_name, data_type, is_nullable = 'YES'"
        " from information_schema.columns where table_schema = 'public'"
        " and table_name = any(%s)",
        (STUDIO_TABLES,),
    ).fetchall()
    return {(table, column): (dtype, nullable) for table, column, dtype, nullable in rows}


def test_the_columns_rules_rely_on_are_not_null(conn: psycopg.Connection) -> None:
    columns = _columns(conn)
    nullable = sorted(
        (table, column)
        for table, names in NOT_NULL.items()
        for column in names
        if columns.get((table, column), ("", True))[1]
    )
    assert nullable == []


def test_the_columns_that_may_be_empty_are_nullable(conn: psycopg.Connection) -> None:
    columns = _columns(conn)
    assert sorted(c for c in NULLABLE if not columns.get(c, ("", False))[1]) == []


def test_every_id_and_reference_is_a_uuid(conn: psycopg.Connection) -> None:
    columns = _columns(conn)
    wrong = {
        key: dtype
        for key, (dtype, _) in columns.items()
        if (key[1] == "id" or key[1].endswith("_id")) and dtype != FOREIGN_IDS.get(key, "uuid")
    }
    assert wrong == {}


def test_every_moment_is_a_timestamptz(conn: psycopg.Connection) -> None:
    columns = _columns(conn)
    wrong = {
        key: dtype
        for key, (dtype, _) in columns.items()
        if key[1].endswith("_at") and dtype != "timestamp with time zone"
    }
    assert wrong == {}
    assert columns[("usage_daily", "day")][0] == "date"


def test_structured_columns_are_jsonb_and_peaks_bytes(conn: psycopg.Connection) -> None:
    columns = _columns(conn)
    assert {key: columns[key][0] for key in JSON_COLUMNS} == dict.fromkeys(JSON_COLUMNS, "jsonb")
    row = conn.execute(
        "select format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = 'public.generations'::regclass and attname = 'peaks'"
    ).fetchone()
    assert row == ("bytea",)


def test_counters_and_measures_are_numbers(conn: psycopg.Connection) -> None:
    columns = _columns(conn)
    numeric = {"integer", "bigint", "double precision", "real", "numeric"}
    for key in (
        ("tasks", "chunks_done"),
        ("tasks", "chunks_total"),
        ("tasks", "attempts"),
        ("generations", "duration_seconds"),
        ("generations", "speed"),
        ("voices", "duration_seconds"),
        ("usage_daily", "characters"),
        ("usage_daily", "transcription_seconds"),
    ):
        assert columns[key][0] in numeric, key


@pytest.mark.parametrize("table", STUDIO_TABLES)
def test_primary_key_is_a_uuid_id(conn: psycopg.Connection, table: str) -> None:
    rows = conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_index i"
        " join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
        " where i.indrelid = %s::regclass and i.indisprimary",
        (f"public.{table}",),
    ).fetchall()
    assert rows == [("id", "uuid")]


def test_defaults(conn: psycopg.Connection) -> None:
    for (table, column), expected in DEFAULTS.items():
        row = conn.execute(
            "select column_default from information_schema.columns"
            " where table_schema = 'public' and table_name = %s and column_name = %s",
            (table, column),
        ).fetchone()
        assert row == (expected,), (table, column)


def test_named_indexes_exist(conn: psycopg.Connection) -> None:
    rows = conn.execute("select indexname from pg_indexes where schemaname = 'public'").fetchall()
    assert {r[0] for r in rows} >= NAMED_INDEXES


def test_one_active_generate_guard_is_a_partial_unique_index(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "select indexdef from pg_indexes where indexname = 'idx_tasks_generate_one_active_per_user'"
    ).fetchone()
    assert row is not None
    definition = str(row[0])
    assert definition.startswith("CREATE UNIQUE INDEX")
    assert "type = 'generate'" in definition and "'pending'" in definition


def test_handle_is_unique(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "select contype from pg_constraint where conname = 'profiles_handle_key'"
    ).fetchone()
    assert row == ("u",)


def test_every_foreign_key_is_indexed(conn: psycopg.Connection) -> None:
    """A foreign key column without an index makes cascades and joins scan the table."""
    rows = conn.execute(
        """
        select c.conrelid::regclass::text, c.conname
          from pg_constraint c
          join pg_namespace n on n.oid = c.connamespace
         where c.contype = 'f' and n.nspname in ('public', 'storage', 'utter')
           and not exists (
             select 1 from pg_index i
              where i.indrelid = c.conrelid
                and (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey
           )
        """
    ).fetchall()
    assert rows == []


def test_no_timestamp_without_time_zone(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns"
        " where data_type = 'timestamp without time zone'"
        " and table_schema in ('public', 'storage', 'auth', 'utter')"
    ).fetchall()
    assert rows == []


@pytest.mark.parametrize("table", ["public." + t for t in STUDIO_TABLES] + ["storage.objects"])
def test_row_level_security_is_on(conn: psycopg.Connection, table: str) -> None:
    row = conn.execute("select relrowsecurity from pg_class where oid = %s::regclass", (table,))
    assert row.fetchone() == (True,)


def test_every_table_in_exposed_schemas_has_rls(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n"
        " on n.oid = c.relnamespace where c.relkind = 'r' and n.nspname = any(%s)"
        " and not c.relrowsecurity",
        (list(EXPOSED_SCHEMAS),),
    ).fetchall()
    assert rows == []


def test_policies_use_select_auth_uid_and_never_user_metadata(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select schemaname, policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '')"
        " from pg_policies where schemaname in ('public', 'storage')"
    ).fetchall()
    names = {(schema, name) for schema, name, _ in rows}
    assert names == {
        ("public", "profiles_select_own"),
        ("public", "voices_select_own"),
        ("public", "voices_delete_own"),
        ("public", "generations_select_own"),
        ("public", "generations_delete_own"),
        ("public", "tasks_select_own"),
        ("public", "usage_daily_select_own"),
        ("public", "api_keys_select_own"),
        ("storage", "references_select_own"),
        ("storage", "references_insert_own"),
        ("storage", "generations_select_own"),
    }
    for _, name, expression in rows:
        # (select auth.uid()) is evaluated once per statement, not once per row.
        assert "( SELECT auth.uid() AS uid)" in expression, name
        assert "user_metadata" not in expression, name


def test_policies_target_only_authenticated(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select policyname, roles from pg_policies where schemaname in ('public', 'storage')"
    ).fetchall()
    assert rows and all(roles == ["authenticated"] for _, roles in rows)


@pytest.mark.parametrize(
    ("function", "definer"),
    [
        ("public.handle_new_user()", True),
        ("public.increment_task_modal_poll_count(uuid,uuid)", True),
        ("public.fail_stale_tasks(interval,interval)", True),
        ("public.handle_updated_at()", False),
    ],
)
def test_function_security_and_search_path(
    conn: psycopg.Connection, function: str, definer: bool
) -> None:
    row = conn.execute(
        "select prosecdef, proconfig from pg_proc where oid = %s::regprocedure", (function,)
    ).fetchone()
    assert row is not None
    assert row[0] is definer
    assert row[1] == ['search_path=""']


def test_clients_cannot_execute_server_functions(conn: psycopg.Connection) -> None:
    """Every function in an exposed schema is closed to anon and authenticated,
    except the storage path helpers the policies themselves call."""
    allowed = {"storage.foldername", "storage.filename"}
    rows = conn.execute(
        """
        select n.nspname || '.' || p.proname, r.rolname
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          cross join (values ('anon'), ('authenticated')) as r(rolname)
         where n.nspname = any(%s)
           and has_function_privilege(r.rolname, p.oid, 'execute')
        """,
        (list(EXPOSED_SCHEMAS),),
    ).fetchall()
    assert {name for name, _ in rows} <= allowed


def test_service_role_may_call_the_server_functions(conn: psycopg.Connection) -> None:
    for function in (
        "public.increment_task_modal_poll_count(uuid,uuid)",
        "public.fail_stale_tasks(interval,interval)",
    ):
        row = conn.execute(
            "select has_function_privilege('service_role', %s, 'execute')", (function,)
        ).fetchone()
        assert row == (True,), function


def test_anon_has_no_privilege_on_any_table_in_exposed_schemas(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """
        select n.nspname || '.' || c.relname, priv
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          cross join unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES',
                                  'TRIGGER']) as priv
         where c.relkind in ('r', 'v', 'm', 'p') and n.nspname = any(%s)
           and has_table_privilege('anon', c.oid, priv)
        """,
        (list(EXPOSED_SCHEMAS),),
    ).fetchall()
    assert rows == []


def test_authenticated_privileges_are_exactly_these(conn: psycopg.Connection) -> None:
    expected = {
        "public.profiles": {"SELECT"},
        "public.voices": {"SELECT", "DELETE"},
        "public.generations": {"SELECT", "DELETE"},
        "public.tasks": {"SELECT"},
        "public.usage_daily": {"SELECT"},
        "storage.objects": {"SELECT", "INSERT"},
        "storage.buckets": set(),
    }
    for table, privileges in expected.items():
        granted = {
            priv
            for priv in (
                "SELECT",
                "INSERT",
                "UPDATE",
                "DELETE",
                "TRUNCATE",
                "REFERENCES",
                "TRIGGER",
            )
            if conn.execute(
                "select has_table_privilege('authenticated', %s, %s)", (table, priv)
            ).fetchone()
            == (True,)
        }
        assert granted == privileges, table


def test_one_usage_row_per_user_and_day(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "select contype from pg_constraint where conname = 'usage_daily_user_day_key'"
    ).fetchone()
    assert row == ("u",)


def test_upload_grants_are_the_servers_alone(conn: psycopg.Connection) -> None:
    for role in ("anon", "authenticated"):
        for priv in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            row = conn.execute(
                "select has_table_privilege(%s, 'utter.upload_grants', %s)", (role, priv)
            ).fetchone()
            assert row == (False,), (role, priv)
    for priv in ("SELECT", "INSERT", "DELETE"):
        row = conn.execute(
            "select has_table_privilege('service_role', 'utter.upload_grants', %s)", (priv,)
        ).fetchone()
        assert row == (True,), priv


def test_internal_schemas_are_closed_to_clients(conn: psycopg.Connection) -> None:
    for schema in ("utter", "procrastinate"):
        for role in ("anon", "authenticated"):
            row = conn.execute(
                "select has_schema_privilege(%s, %s, 'usage')", (role, schema)
            ).fetchone()
            assert row == (False,), (schema, role)
    row = conn.execute("select has_table_privilege('authenticated', 'auth.users', 'select')")
    assert row.fetchone() == (False,)


def test_buckets_exist_and_are_private(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select id, public, file_size_limit, allowed_mime_types from storage.buckets order by id"
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("generations", False), ("references", False)]
    references = rows[1]
    assert references[2] == 50 * 1024 * 1024
    assert {"audio/wav", "audio/mpeg", "audio/mp4", "audio/webm", "audio/ogg"} <= set(references[3])


# Constraints ---------------------------------------------------------------------------


async def _expect(db: Database, sqlstate: type[Exception], sql: str, *params: object) -> None:
    with pytest.raises(sqlstate):
        async with db.as_service() as c:
            await c.execute(sql.encode(), params)


async def test_check_constraints_raise_23514(db: Database) -> None:
    user = await make_user(db)
    await _expect(
        db,
        errors.CheckViolation,
        "insert into voices (user_id, name, source) values (%s, 'v', 'stolen')",
        user.id,
    )
    await _expect(
        db,
        errors.CheckViolation,
        "insert into voices (user_id, name, source) values (%s, '', 'uploaded')",
        user.id,
    )
    await _expect(
        db,
        errors.CheckViolation,
        "insert into voices (user_id, name, source) values (%s, repeat('x', 101), 'uploaded')",
        user.id,
    )
    await _expect(
        db,
        errors.CheckViolation,
        "insert into generations (user_id, text, status) values (%s, 't', 'exploded')",
        user.id,
    )
    await _expect(
        db,
        errors.CheckViolation,
        "insert into tasks (user_id, type) values (%s, 'mine_bitcoin')",
        user.id,
    )
    await _expect(
        db,
        errors.CheckViolation,
        "insert into tasks (user_id, type, status) values (%s, 'generate', 'sleeping')",
        user.id,
    )


async def test_check_violation_sqlstate_is_23514(db: Database) -> None:
    user = await make_user(db)
    with pytest.raises(errors.CheckViolation) as caught:
        async with db.as_service() as c:
            await c.execute("insert into tasks (user_id, type) values (%s, 'nope')", (user.id,))
    assert caught.value.sqlstate == "23514"


async def test_stored_audio_always_has_a_duration(db: Database) -> None:
    user = await make_user(db)
    await _expect(
        db,
        errors.CheckViolation,
        "insert into generations (user_id, text, audio_object_key) values (%s, 't', 'k.wav')",
        user.id,
    )
    await _expect(
        db,
        errors.CheckViolation,
        "insert into generations (user_id, text, status) values (%s, 't', 'completed')",
        user.id,
    )
    async with db.as_service() as c:
        await c.execute(
            "insert into generations (user_id, text, status, audio_object_key, duration_seconds)"
            " values (%s, 't', 'completed', 'k.wav', 1.5)",
            (user.id,),
        )


async def test_profile_handle_and_display_name_are_checked(db: Database) -> None:
    user = await make_user(db)
    for sql in (
        "update profiles set handle = 'a b' where id = %s",
        "update profiles set handle = 'ab' where id = %s",
        "update profiles set display_name = '' where id = %s",
    ):
        await _expect(db, errors.CheckViolation, sql, user.id)
