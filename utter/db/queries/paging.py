"""Pages of a newest-first list, by page number or by cursor, and the list's total.

The page and the total are separate queries, each served by an index on
`(user_id, [filter,] created_at desc, id desc)`: the page reads only its own rows (plus
the offset's entries), and `count(*)` reads index entries, never the rows' columns. A
numbered page that is not full already says the total, so it is not counted again.

A cursor is the position of a page's last row, `(created_at, id)`, as an opaque string:
the next page is the rows strictly after it in the list's order. Unlike an offset it does
not shift when rows are added at the top meanwhile, so walking by cursor yields every row
that existed when the walk began exactly once.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from utter.db.pool import Connection
from utter.errors import Invalid

Row = dict[str, Any]

BAD_CURSOR = "Invalid cursor."

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Microseconds since the epoch (Postgres' own precision) and the id's 16 bytes.
_CURSOR = struct.Struct(">q16s")
# Its 24 bytes as unpadded URL-safe base64.
_CURSOR_TEXT = re.compile("[A-Za-z0-9_-]{32}")


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's sort key."""

    created_at: datetime
    id: UUID

    def encode(self) -> str:
        delta = self.created_at - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        packed = _CURSOR.pack(micros, self.id.bytes)
        return base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor a page answered with; anything else is Invalid (a 400)."""
        if not _CURSOR_TEXT.fullmatch(text):
            raise Invalid(BAD_CURSOR)
        try:
            micros, raw_id = _CURSOR.unpack(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            return cls(_EPOCH + timedelta(microseconds=micros), UUID(bytes=raw_id))
        except (binascii.Error, ValueError, OverflowError, struct.error):
            raise Invalid(BAD_CURSOR) from None


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    # Where the next page starts; None when this page reaches the end of the list.
    next_cursor: str | None


async def fetch_page(
    conn: Connection,
    *,
    table: str,
    alias: str,
    where: list[str],
    params: dict[str, Any],
    columns: str,
    joins: str = "",
    limit: int,
    offset: int,
    cursor: Cursor | None,
    in_order: bool = False,
) -> Page:
    """One page of `table` (as `alias`) where every condition of `where` holds, newest first
    (`created_at desc, id desc`), with `columns` read after `joins`; and how many rows match in
    all. With a cursor the page starts after it and `offset` is not used. The fragments are
    fixed SQL; values go in `params`.

    `in_order` walks the index in list order and stops when the page is full, for filters
    whose share of rows the planner cannot estimate (a substring search): otherwise it may
    fetch and sort every match of a common word to keep 20."""
    if in_order:
        await conn.execute("set local enable_sort = off")
    conditions = " and ".join(where) or "true"
    page_conditions = conditions
    values: dict[str, Any] = {**params, "limit": limit + 1, "offset": offset}
    if cursor is not None:
        page_conditions += f" and ({alias}.created_at, {alias}.id) < (%(cursor_at)s, %(cursor_id)s)"
        values.update(cursor_at=cursor.created_at, cursor_id=cursor.id, offset=0)
    # The page's keys come first, from the index alone where no filter needs the row; only
    # the page's own rows are then read in full and joined.
    cur = await conn.execute(
        f"with page as (select {alias}.id, {alias}.created_at from {table} {alias}"
        f" where {page_conditions} order by {alias}.created_at desc, {alias}.id desc"
        f" limit %(limit)s offset %(offset)s)"
        f" select {columns} from page join {table} {alias} on {alias}.id = page.id {joins}"
        f" order by page.created_at desc, page.id desc".encode(),
        values,
    )
    rows = await cur.fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = Cursor(last["created_at"], last["id"]).encode()
    if cursor is None and next_cursor is None and (rows or offset == 0):
        return Page(rows, offset + len(rows), None)
    cur = await conn.execute(
        f"select count(*) as n from {table} {alias} where {conditions}".encode(), params
    )
    row = await cur.fetchone()
    return Page(rows, int(row["n"]) if row else 0, next_cursor)
