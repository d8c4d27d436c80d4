"""One page of a list and the total it is a page of, in one query when the page has rows."""

from __future__ import annotations

from typing import Any

from utter.db.pool import Connection

Row = dict[str, Any]


async def fetch_page(
    conn: Connection, *, select: str, from_where: str, order_by: str, params: dict[str, Any]
) -> tuple[list[Row], int]:
    """Rows of `select … from_where order by … limit %(limit)s offset %(offset)s`, and how
    many rows `from_where` holds in all. The fragments are fixed SQL; values go in `params`."""
    cur = await conn.execute(
        f"select {select}, count(*) over () as total_rows {from_where}"
        f" order by {order_by} limit %(limit)s offset %(offset)s".encode(),
        params,
    )
    rows = await cur.fetchall()
    if rows:
        total = int(rows[0]["total_rows"])
        return [{k: v for k, v in r.items() if k != "total_rows"} for r in rows], total
    # A page past the end has no row to carry the total.
    cur = await conn.execute(f"select count(*) as n {from_where}".encode(), params)
    row = await cur.fetchone()
    return [], int(row["n"]) if row else 0
