"""Per-user advisory locks: what makes a "at most N at once" check exact.

Counting a user's rows and then inserting one is a race between two requests; taken
first in the same transaction, this lock lets one request at a time per user and per
`scope` count and write. It is released when the transaction ends.
"""

from __future__ import annotations

from uuid import UUID

from utter.db.pool import Connection


async def lock_user(conn: Connection, scope: str, user_id: UUID) -> None:
    """Wait for, then hold until commit, the lock on (`scope`, `user_id`)."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s || ':' || %s, 0))",
        (f"utter.{scope}", str(user_id)),
    )
