"""Response shapes shared by several routers."""

from __future__ import annotations

from pydantic import BaseModel


class Ok(BaseModel):
    """The answer of a deletion or another action with nothing else to say."""

    ok: bool = True


class Pagination(BaseModel):
    """Where a page sits in a numbered list."""

    page: int
    per_page: int
    total: int
    pages: int
