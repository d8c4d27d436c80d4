"""The shape of the schema: spec §3.6 checklist items about tables, indexes, constraints,
functions, grants and policies (the behaviour under RLS is in test_rls.py)."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

from tests.support.users import make_user
from utter.db import Database

TABLE_COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {
    # column -> (data type, nullable)
    "profiles": {
        "id": ("uuid", False),
        "handle": ("text", True),
        "display_name": ("text", True),
        "avatar_url": ("text", True),
        "subscription_tier": ("text", False),
        "credits_remaining": ("integer", False),
        "created_at": ("timestamp with time zone", False),
        "updated_at": ("timestamp with time zone", False),
    },
    "voices": {
        "id": ("uuid", False),
        "user_id": ("uuid", False),
        "name": ("text", False),
        "reference_object_key": ("text", True),
        "reference_transcript": ("text", True),
        "language": ("text", False),
        "source": ("text", False),
        "description": ("text", True),
        "created_at": ("timestamp with time zone", False),
        "original_object_key": ("text", True),
        "duration_seconds": ("double precision", True),
        "reference_report": ("jsonb", True),
    },
    "generations": {
        "id": ("uuid", False),
        "user_id": ("uuid", False),
        "voice_id": ("uuid", True),
        "text": ("text", False),
        "audio_object_key": ("text", True),
        "duration_seconds": ("double precision", True),
        "language": ("text", False),
        "status": ("text", False),
        "generation_time_seconds": ("double precision", True),
        "error_message": ("text", True),
        "created_at": ("timestamp with time zone", False),
        "completed_at": ("timestamp with time zone", True),
        "peaks": ("ARRAY", True),
    },
    "tasks": {
        "id": ("uuid", False),
        "user_id": ("uuid", False),
        "type": ("text", False),
        "status": ("text", False),
        "modal_job_id": ("text", True),
        "generation_id": ("uuid", True),
        "voice_id": ("uuid", True),
        "modal_poll_count": ("integer", False),
        "metadata": ("jsonb", False),
        "result": ("jsonb", True),
        "error": ("text", True),
        "started_at": ("timestamp with time zone", True),
        "heartbeat_at": ("timestamp with time zone", True),
        "chunks_done": ("integer", False),
        "chunks_total": ("integer", True),
        "attempts": ("integer", False),
        "queue_job_id": ("bigint", True),
        "created_at": ("timestamp with time zone", False),
        "updated_at": ("timestamp with time zone", False),
        "completed_at": ("timestamp with time zone", True),
    },
    "usage_daily": {
        "id": ("uuid", False),
        "user_id": ("uuid", False),
        "day": ("date", False),
        "characters": ("bigint", False),
        "transcription_seconds": ("double precision", False),
        "updated_at": ("timestamp with time zone", False),
    },
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
}

NAMED_INDEXES = {
    "idx_voices_user_id_created",
    "idx_generations_user_id_created",
    "idx_tasks_user_id",
    "idx_generations_voice_id",
    "idx_tasks_generation_id",
    "idx_tasks_voice_id",
    "idx_tasks_modal_job_id",
    "idx_tasks_active",
    "idx_tasks_generate_one_active_per_user",
}

STUDIO_TABLES = ["profiles", "voices", "generations", "tasks", "usage_daily"]
EXPOSED_SCHEMAS = ("public", "storage")


@pytest.fixture(scope="module")
def conn(database_url: str) -> psycopg.Connection[tuple[object, ...]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def test_public_schema_and_uuid_generation_exist(conn: psycopg.Connection) -> None:
    # The original checked for pgcrypto; the embedded wheel has none, and Utter
    # only needs gen_random_uuid(), which is built into Postgres ≥ 13.
    assert conn.execute("select to_regnamespace('public') is not null").fetchone() == (True,)
    value = conn.execute("select gen_random_uuid()").fetchone()
    assert value is not None and isinstance(value[0], uuid.UUID)


@pytest.mark.parametrize("table", STUDIO_TABLES)
def test_table_columns_types_and_nullability(conn: psycopg.Connection, table: str) -> None:
    rows = conn.execute(
        "select column_name, data_type, is_nullable = 'YES' from information_schema.columns"
        " where table_schema = 'public' and table_name = %s",
        (table,),
    ).fetchall()
    actual = {name: (dtype, nullable) for name, dtype, nullable in rows}
    assert actual == TABLE_COLUMNS[table]


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


def test_authenticated_privileges_are_exactly_the_spec(conn: psycopg.Connection) -> None:
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
