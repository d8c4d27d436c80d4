"""Apply the ordered `.sql` files in `utter/db/migrations/`.

Each file is plain SQL in Supabase's style and is itself idempotent (it creates
only what is absent), so the same files can be pasted into a Supabase project.
The runner records what it applied in `utter.schema_migrations`, applies each
pending file in its own transaction, and holds an advisory lock so two
processes starting at once cannot interleave.

Before the files, it installs the job queue's own schema (procrastinate's
`schema.sql`) into the private schema `procrastinate` when it is absent; the
files that follow may grant on it. Procrastinate's SQL names its objects
unqualified, so its connections and functions are given that search path.
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
        """What the database did: the statements, not the comments between them, so
        rewording a comment line of an applied file is not a change."""
        statements = (
            line.rstrip()
            for line in self.sql.splitlines()
            if line.strip() and not line.lstrip().startswith("--")
        )
        return hashlib.sha256("\n".join(statements).encode()).hexdigest()


# Checksums of the whole file, comments included, as recorded before comments stopped
# counting; a database that holds one of these is up to date and only gets the new form.
WHOLE_FILE_CHECKSUMS: dict[str, str] = {
    "0001": "d1ef5e72112daa020faf90ce111b22b2d0bc78d2807cd382c5428f16eed25a39",
    "0002": "b467f065160bad056e47e6d70d52e1f7f5356ce6c09a148068f3779f145e3f03",
    "0003": "ce1ba144005dbb588201a6fbdf35ebd5f9fda47b27855d7a767683e7a87b9c63",
    "0004": "c03a2032381a6a15451cf606c5272772d0c99ae9b75471c917b0b540c040701d",
    "0005": "5afdcb7b1e753bd1951777308164605e5e140320be960356a9754b2f7c048732",
    "0006": "d58fa54dc973a3127ba6ed2add5dfed8fa60dbe8033f06d1e0f7d1857f3aec64",
    "0007": "9951426a8d48a126dbb3a02dcaa768aa573d86336f63580bce24368711c56858",
}


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
create table if not exists utter.components (
    name text primary key,
    version text not null,
    installed_at timestamptz not null default now()
);
"""

QUEUE_SCHEMA = "procrastinate"


def _install_queue_schema(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    """Install procrastinate's tables and functions in their own schema, once."""
    import procrastinate
    from procrastinate.schema import SchemaManager

    found = conn.execute("select to_regclass('procrastinate.procrastinate_jobs')").fetchone()
    if found is not None and found[0] is not None:
        row = conn.execute(
            "select version from utter.components where name = 'procrastinate'"
        ).fetchone()
        installed = str(row[0]) if row else "unknown"
        if installed.split(".")[:2] != procrastinate.__version__.split(".")[:2]:
            log.warning(
                "the job queue schema was installed by procrastinate %s but %s is running;"
                " apply procrastinate's migrations (see docs/jobs.md)",
                installed,
                procrastinate.__version__,
            )
        return False
    with conn.transaction():
        conn.execute(f"create schema if not exists {QUEUE_SCHEMA}".encode())
        conn.execute(f"revoke all on schema {QUEUE_SCHEMA} from public".encode())
        conn.execute(f"set local search_path = {QUEUE_SCHEMA}".encode())
        conn.execute(SchemaManager.get_schema().encode())
        # Triggers and functions then work whatever the caller's search path is.
        functions = conn.execute(
            "select p.oid::regprocedure::text from pg_proc p"
            " join pg_namespace n on n.oid = p.pronamespace where n.nspname = %s",
            (QUEUE_SCHEMA,),
        ).fetchall()
        for (signature,) in functions:
            conn.execute(f"alter function {signature} set search_path = {QUEUE_SCHEMA}".encode())
        conn.execute(
            "insert into utter.components (name, version) values ('procrastinate', %s)"
            " on conflict (name) do update set version = excluded.version,"
            " installed_at = now()",
            (procrastinate.__version__,),
        )
    log.info("installed the job queue schema (procrastinate %s)", procrastinate.__version__)
    return True


def migrate(url: str, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    if migrations is None:
        migrations = load_migrations()
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_BOOKKEEPING)
            _install_queue_schema(conn)
            rows = conn.execute("select version, checksum from utter.schema_migrations").fetchall()
            done = {version: checksum for version, checksum in rows}
            for migration in migrations:
                if migration.version in done:
                    recorded = done[migration.version]
                    if recorded == WHOLE_FILE_CHECKSUMS.get(migration.version):
                        conn.execute(
                            "update utter.schema_migrations set checksum = %s where version = %s",
                            (migration.checksum, migration.version),
                        )
                    elif recorded != migration.checksum:
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


def sync_generation_guard(url: str, max_active: int) -> None:
    """Keep the schema's one-active-generation index only while the limit is 1.

    The API enforces any limit under a per-user lock; the partial unique index is the
    database's own backstop for the default limit, and would wrongly refuse a second
    active generation when an operator allows more."""
    with psycopg.connect(url, autocommit=True) as conn:
        if max_active == 1:
            conn.execute(
                "create unique index if not exists idx_tasks_generate_one_active_per_user"
                " on public.tasks (user_id)"
                " where type = 'generate' and status in ('pending', 'processing')"
            )
        else:
            conn.execute("drop index if exists public.idx_tasks_generate_one_active_per_user")
