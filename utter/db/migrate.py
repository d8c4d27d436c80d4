"""Apply the ordered `.sql` files in `utter/db/migrations/`.

Each file is plain SQL in Supabase's style and is itself idempotent (it creates
only what is absent), so the same files can be pasted into a Supabase project.
The runner records what it applied in `utter.schema_migrations`, applies each
pending file in its own transaction, and holds an advisory lock so two
processes starting at once cannot interleave.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every Utter process.
_LOCK_KEY = 0x7574746572  # "utter"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    if directory is None:
        directory = Path(str(resources.files("utter.db") / "migrations"))
    found = []
    for path in sorted(directory.glob("*.sql")):
        version, _, name = path.stem.partition("_")
        found.append(Migration(version=version, name=name, sql=path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version in {directory}")
    return found


_BOOKKEEPING = """
create schema if not exists utter;
revoke all on schema utter from public;
create table if not exists utter.schema_migrations (
    version text primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
);
"""


def migrate(url: str, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    if migrations is None:
        migrations = load_migrations()
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_BOOKKEEPING)
            rows = conn.execute("select version, checksum from utter.schema_migrations").fetchall()
            done = {version: checksum for version, checksum in rows}
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        log.warning(
                            "migration %s_%s changed after it was applied; not re-applied",
                            migration.version,
                            migration.name,
                        )
                    continue
                log.info("applying migration %s_%s", migration.version, migration.name)
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "insert into utter.schema_migrations (version, name, checksum)"
                        " values (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.version)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def current_level(url: str) -> str | None:
    """The newest applied migration, as `version_name`, or None on an empty database."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("select to_regclass('utter.schema_migrations')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = conn.execute(
            "select version || '_' || name from utter.schema_migrations"
            " order by version desc limit 1"
        ).fetchone()
        return None if row is None else str(row[0])
