"""Response shapes shared by several routers."""

from __future__ import annotations

from pydantic import BaseModel


class Ok(BaseModel):
    """The answer of a deletion or another action with nothing else to say."""

    ok: bool = True


CURSOR_HELP = (
    "The `next_cursor` of the previous page: the page after it, by position rather than by"
    " number, so rows added meanwhile neither repeat nor skip a row; `page` is then not used."
)


class Pagination(BaseModel):
    """Where a page sits in a numbered list. Its `total` is exact: counted apart from the
    page, by an index."""

    page: int
    per_page: int
    total: int
    pages: int
