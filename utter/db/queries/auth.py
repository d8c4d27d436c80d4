"""The built-in auth's SQL: users (auth.users), sessions, refresh tokens, emailed one-time
tokens and rate-limit counters (schema `utter`). Run as service_role."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from utter.db.pool import Connection

Row = dict[str, Any]

USER_COLUMNS = (
    "id, aud, role, email, encrypted_password, email_confirmed_at, confirmation_sent_at,"
    " recovery_sent_at, email_change, email_change_sent_at, last_sign_in_at,"
    " raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous"
)

# Which auth.users column records when each kind of mail was last sent.
SENT_AT_COLUMN = {
    "signup": "confirmation_sent_at",
    "magiclink": "confirmation_sent_at",
    "recovery": "recovery_sent_at",
    "email_change": "email_change_sent_at",
}

APP_METADATA = {"provider": "email", "providers": ["email"]}


# Users ------------------------------------------------------------------------------


async def find_user_by_email(conn: Connection, email: str) -> Row | None:
    cur = await conn.execute(
        f"select {USER_COLUMNS} from auth.users where lower(email) = lower(%s)".encode(),
        (email,),
    )
    return await cur.fetchone()


async def find_user(conn: Connection, user_id: UUID) -> Row | None:
    cur = await conn.execute(
        f"select {USER_COLUMNS} from auth.users where id = %s".encode(), (user_id,)
    )
    return await cur.fetchone()


async def insert_user(
    conn: Connection,
    *,
    email: str,
    password_hash: str | None,
    confirmed: bool,
    user_metadata: dict[str, Any],
) -> Row:
    """A new account. Raises UniqueViolation when the email is taken (any letter case)."""
    cur = await conn.execute(
        f"""
        insert into auth.users (aud, role, email, encrypted_password, email_confirmed_at,
                                raw_app_meta_data, raw_user_meta_data)
        values ('authenticated', 'authenticated', %s, %s,
                case when %s then now() end, %s, %s)
        returning {USER_COLUMNS}
        """.encode(),
        (email, password_hash, confirmed, Jsonb(APP_METADATA), Jsonb(user_metadata)),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def set_password(conn: Connection, user_id: UUID, password_hash: str) -> None:
    await conn.execute(
        "update auth.users set encrypted_password = %s, updated_at = now() where id = %s",
        (password_hash, user_id),
    )


async def confirm_email(conn: Connection, user_id: UUID) -> None:
    await conn.execute(
        "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()),"
        " updated_at = now() where id = %s",
        (user_id,),
    )


async def record_sign_in(conn: Connection, user_id: UUID) -> None:
    await conn.execute(
        "update auth.users set last_sign_in_at = now(), updated_at = now() where id = %s",
        (user_id,),
    )


async def merge_user_metadata(conn: Connection, user_id: UUID, patch: dict[str, Any]) -> None:
    """GoTrue's rule: keys are merged in, and a key set to null is removed."""
    await conn.execute(
        "update auth.users set raw_user_meta_data ="
        " jsonb_strip_nulls(coalesce(raw_user_meta_data, '{}'::jsonb) || %s),"
        " updated_at = now() where id = %s",
        (Jsonb(patch), user_id),
    )


async def set_email(conn: Connection, user_id: UUID, email: str) -> None:
    """Make `email` the account's confirmed address. Raises UniqueViolation when taken."""
    await conn.execute(
        "update auth.users set email = %s, email_confirmed_at = now(), email_change = null,"
        " email_change_sent_at = null, updated_at = now() where id = %s",
        (email, user_id),
    )


async def set_pending_email(conn: Connection, user_id: UUID, email: str) -> None:
    await conn.execute(
        "update auth.users set email_change = %s, updated_at = now() where id = %s",
        (email, user_id),
    )


async def record_mail_sent(conn: Connection, user_id: UUID, kind: str) -> None:
    column = SENT_AT_COLUMN[kind]
    await conn.execute(f"update auth.users set {column} = now() where id = %s".encode(), (user_id,))


# Sessions and refresh tokens -----------------------------------------------------------


async def create_session(
    conn: Connection, user_id: UUID, *, method: str, user_agent: str | None, ip: str | None
) -> UUID:
    cur = await conn.execute(
        "insert into utter.auth_sessions (user_id, method, user_agent, ip)"
        " values (%s, %s, %s, %s) returning id",
        (user_id, method, user_agent, ip),
    )
    row = await cur.fetchone()
    assert row is not None
    session_id: UUID = row["id"]
    return session_id


async def session_is_live(conn: Connection, session_id: UUID, user_id: UUID) -> bool:
    cur = await conn.execute(
        "select 1 from utter.auth_sessions where id = %s and user_id = %s",
        (session_id, user_id),
    )
    return await cur.fetchone() is not None


async def get_session(conn: Connection, session_id: UUID) -> Row | None:
    cur = await conn.execute(
        "select id, user_id, method, created_at, refreshed_at from utter.auth_sessions"
        " where id = %s",
        (session_id,),
    )
    return await cur.fetchone()


async def touch_session(
    conn: Connection, session_id: UUID, *, user_agent: str | None, ip: str | None
) -> None:
    await conn.execute(
        "update utter.auth_sessions set refreshed_at = now(), user_agent = %s, ip = %s"
        " where id = %s",
        (user_agent, ip, session_id),
    )


async def delete_session(conn: Connection, session_id: UUID) -> int:
    cur = await conn.execute("delete from utter.auth_sessions where id = %s", (session_id,))
    return cur.rowcount


async def delete_user_sessions(conn: Connection, user_id: UUID, *, keep: UUID | None = None) -> int:
    """End every session of the user, except `keep` when given."""
    cur = await conn.execute(
        "delete from utter.auth_sessions where user_id = %s and id is distinct from %s",
        (user_id, keep),
    )
    return cur.rowcount


async def insert_refresh_token(
    conn: Connection, session_id: UUID, token_hash: str, *, parent_id: UUID | None = None
) -> None:
    await conn.execute(
        "insert into utter.auth_refresh_tokens (session_id, token_hash, parent_id)"
        " values (%s, %s, %s)",
        (session_id, token_hash, parent_id),
    )


async def lock_refresh_token(conn: Connection, token_hash: str) -> Row | None:
    """The token with its session, both locked, so concurrent refreshes of one session
    run one after the other and each sees what the previous one did."""
    cur = await conn.execute(
        """
        select t.id, t.session_id, t.revoked_at,
               extract(epoch from now() - t.revoked_at)::float8 as revoked_seconds_ago,
               s.user_id
          from utter.auth_refresh_tokens t
          join utter.auth_sessions s on s.id = t.session_id
         where t.token_hash = %s
           for update of t, s
        """,
        (token_hash,),
    )
    return await cur.fetchone()


async def revoke_refresh_token(conn: Connection, token_id: UUID) -> None:
    await conn.execute(
        "update utter.auth_refresh_tokens set revoked_at = now() where id = %s", (token_id,)
    )


async def prune_revoked_refresh_tokens(
    conn: Connection, session_id: UUID, *, older_than_seconds: int
) -> None:
    """Forget long-rotated tokens; a leaked one that old then simply is not found."""
    await conn.execute(
        "delete from utter.auth_refresh_tokens where session_id = %s"
        " and revoked_at < now() - %s * interval '1 second'",
        (session_id, older_than_seconds),
    )


# One-time tokens (emailed links and codes) ------------------------------------------------


async def put_one_time_token(
    conn: Connection,
    *,
    user_id: UUID,
    kind: str,
    email: str,
    token_hash: str,
    otp_hash: str,
    lifetime_seconds: int,
) -> None:
    """Issue a token of this kind, replacing any the user still had."""
    await conn.execute(
        """
        insert into utter.auth_one_time_tokens
               (user_id, kind, email, token_hash, otp_hash, expires_at)
        values (%s, %s, %s, %s, %s, now() + %s * interval '1 second')
        on conflict (user_id, kind) do update
           set email = excluded.email, token_hash = excluded.token_hash,
               otp_hash = excluded.otp_hash, created_at = now(),
               expires_at = excluded.expires_at
        """,
        (user_id, kind, email, token_hash, otp_hash, lifetime_seconds),
    )


async def take_token_by_hash(conn: Connection, token_hash: str, kinds: list[str]) -> Row | None:
    """Consume the live token whose link hash matches; None when unknown or expired."""
    cur = await conn.execute(
        "delete from utter.auth_one_time_tokens where token_hash = %s and kind = any(%s)"
        " returning user_id, kind, email, expires_at > now() as live",
        (token_hash, kinds),
    )
    row = await cur.fetchone()
    return row if row is not None and row["live"] else None


async def take_token_by_otp(
    conn: Connection, email: str, otp_hash: str, kinds: list[str]
) -> Row | None:
    """Consume the live token sent to `email` whose code hash matches."""
    cur = await conn.execute(
        "delete from utter.auth_one_time_tokens where lower(email) = lower(%s)"
        " and otp_hash = %s and kind = any(%s)"
        " returning user_id, kind, email, expires_at > now() as live",
        (email, otp_hash, kinds),
    )
    row = await cur.fetchone()
    return row if row is not None and row["live"] else None


# Rate limits ----------------------------------------------------------------------------


async def hit_rate_limit(
    conn: Connection, bucket: str, key: str, window_seconds: int
) -> tuple[int, float]:
    """Count one request in the key's current fixed window (starting a new window when the
    last one is over). Returns the hits so far and the seconds until the window ends."""
    cur = await conn.execute(
        """
        insert into utter.auth_rate_limits as r (bucket, key, window_start, hits)
        values (%(bucket)s, %(key)s, now(), 1)
        on conflict (bucket, key) do update set
          hits = case when r.window_start > now() - %(window)s * interval '1 second'
                      then r.hits + 1 else 1 end,
          window_start = case when r.window_start > now() - %(window)s * interval '1 second'
                              then r.window_start else now() end
        returning hits,
          extract(epoch from r.window_start + %(window)s * interval '1 second' - now())::float8
            as seconds_left
        """,
        {"bucket": bucket, "key": key, "window": window_seconds},
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["hits"]), float(row["seconds_left"])


async def forgive_rate_limit(conn: Connection, bucket: str, key: str, window_seconds: int) -> None:
    """Take back one hit counted in the key's current window (a request that turned out
    not to count, such as a correct password)."""
    await conn.execute(
        """
        update utter.auth_rate_limits set hits = greatest(hits - 1, 0)
        where bucket = %(bucket)s and key = %(key)s
          and window_start > now() - %(window)s * interval '1 second'
        """,
        {"bucket": bucket, "key": key, "window": window_seconds},
    )


async def prune_rate_limits(conn: Connection, window_seconds: int) -> None:
    await conn.execute(
        "delete from utter.auth_rate_limits where window_start < now() - %s * interval '1 second'",
        (window_seconds,),
    )
