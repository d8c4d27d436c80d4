"""Database access: the pool with its `as_user` / `as_service` transactions, migrations,
the embedded server, and one query module per domain under `queries/`."""

from utter.db.pool import Connection, Database, user_claims

__all__ = ["Connection", "Database", "user_claims"]
