"""The migrations apply cleanly, twice, onto Supabase-shaped databases and onto PostgreSQL 15."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.support.postgres import DEBIAN_PG_BIN, DebianPostgres, create_database
from utter.db.migrate import WHOLE_FILE_CHECKSUMS, current_level, load_migrations, migrate

EXPECTED_TABLES = {
    "public.profiles",
    "public.voices",
    "public.generations",
    "public.tasks",
    "storage.buckets",
    "storage.objects",
    "auth.users",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in ('public', 'storage', 'auth')"
        ).fetchall()
    return {r[0] for r in rows}


def test_runner_applies_everything_once_then_nothing(pg_server_url: str) -> None:
    url = create_database(pg_server_url)
    applied = migrate(url)
    assert applied == [m.version for m in load_migrations()]
    assert migrate(url) == []
    assert current_level(url) is not None
    assert _tables(url) >= EXPECTED_TABLES


def test_every_file_is_idempotent_when_run_twice_by_hand(pg_server_url: str) -> None:
    """Pasting the files into a SQL console twice (no runner) must not fail either."""
    url = create_database(pg_server_url)
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(2):
            for migration in load_migrations():
                conn.execute(migration.sql.encode())
    assert _tables(url) >= EXPECTED_TABLES


SUPABASE_PLATFORM = (Path(__file__).parent / "supabase_platform.sql").read_text()


def test_applies_onto_a_supabase_shaped_database_and_keeps_its_platform(pg_server_url: str) -> None:
    url = create_database(pg_server_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SUPABASE_PLATFORM.encode())
    migrate(url)
    assert migrate(url) == []
    with psycopg.connect(url) as conn:
        # Supabase's own auth.uid() was kept, not replaced.
        comment = conn.execute("select obj_description('auth.uid()'::regprocedure)").fetchone()
        assert comment == ("supabase original",)
        # Supabase's extra auth.users columns are still there.
        cols = {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'auth' and table_name = 'users'"
            )
        }
        assert {"instance_id", "is_sso_user", "phone"} <= cols
        # The signup trigger works against Supabase's table.
        conn.execute("insert into auth.users (id, email) values (gen_random_uuid(), 'a@b.test')")
        assert conn.execute("select count(*) from public.profiles").fetchone() == (1,)
        buckets = conn.execute("select id, public from storage.buckets order by id").fetchall()
        assert buckets == [("generations", False), ("references", False)]


def test_migrate_command_against_debian_postgresql_15(tmp_path: Path) -> None:
    """`DATABASE_URL=… utter migrate` on Debian's packaged PostgreSQL 15, run twice."""
    assert (DEBIAN_PG_BIN / "initdb").exists(), (
        "Debian's postgresql-15 is not installed; scripts/install-test-deps.sh installs it"
    )
    server = DebianPostgres(tmp_path)
    url = server.start()
    try:
        env = {**os.environ, "DATABASE_URL": url, "UTTER_DATA_DIR": str(tmp_path / "data")}
        cmd = [sys.executable, "-m", "utter", "migrate"]
        first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert "Applied" in first.stdout
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert "Nothing to apply" in second.stdout
        with psycopg.connect(url) as conn:
            version = conn.execute("show server_version").fetchone()
            assert version is not None and str(version[0]).startswith("15.")
        assert _tables(url) >= EXPECTED_TABLES
        # RLS behaves the same on 15: a user sees only their own voice.
        with psycopg.connect(url, autocommit=True) as conn:
            ids = conn.execute(
                "insert into auth.users (email) values ('a@pg15.test'), ('b@pg15.test')"
                " returning id"
            ).fetchall()
            a, b = ids[0][0], ids[1][0]
            conn.execute(
                "insert into public.voices (user_id, name, source) values (%s, 'mine', 'uploaded')",
                (a,),
            )
            with conn.transaction():
                conn.execute("set local role authenticated")
                conn.execute(
                    "select set_config('request.jwt.claims',"
                    " json_build_object('sub', %s::text)::text, true)",
                    (b,),
                )
                assert conn.execute("select count(*) from public.voices").fetchone() == (0,)
    finally:
        server.stop()


def test_migration_files_are_ordered_and_named() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions)
    assert all(v.isdigit() for v in versions)
    assert all(m.name for m in migrations)


def test_rewording_a_comment_is_not_a_change_but_a_statement_is(tmp_path: Path) -> None:
    (tmp_path / "0001_one.sql").write_text("-- make a table\ncreate table t (id int);\n")
    before = load_migrations(tmp_path)[0].checksum
    (tmp_path / "0001_one.sql").write_text(
        "-- Make the table t, said otherwise.\n\ncreate table t (id int);\n"
    )
    assert load_migrations(tmp_path)[0].checksum == before
    (tmp_path / "0001_one.sql").write_text("-- make a table\ncreate table t (id bigint);\n")
    assert load_migrations(tmp_path)[0].checksum != before


def test_a_database_with_whole_file_checksums_is_brought_up_to_date_quietly(
    pg_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Databases migrated before comments stopped counting hold checksums of whole files:
    they are current, so nothing is re-applied or warned about, and the rows get the new form."""
    url = create_database(pg_server_url)
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for version, whole in WHOLE_FILE_CHECKSUMS.items():
            conn.execute(
                "update utter.schema_migrations set checksum = %s where version = %s",
                (whole, version),
            )
    with caplog.at_level(logging.WARNING, logger="utter.db.migrate"):
        assert migrate(url) == []
    assert not [r for r in caplog.records if "changed after it was applied" in r.getMessage()]
    with psycopg.connect(url) as conn:
        recorded = dict(conn.execute("select version, checksum from utter.schema_migrations"))
    assert recorded == {m.version: m.checksum for m in load_migrations()}


def test_a_changed_statement_in_an_applied_file_is_reported(
    pg_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = create_database(pg_server_url)
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update utter.schema_migrations set checksum = 'x' where version = '0002'")
    with caplog.at_level(logging.WARNING, logger="utter.db.migrate"):
        assert migrate(url) == []
    assert any("0002_studio changed after it was applied" in r.getMessage() for r in caplog.records)
