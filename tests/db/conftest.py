"""Two users of one database, for the row-level security tests: the rows' owner and someone else."""

from __future__ import annotations

import pytest

from tests.support.users import DbUser, make_user
from utter.db import Database


@pytest.fixture
async def owner(db: Database) -> DbUser:
    return await make_user(db)


@pytest.fixture
async def other(db: Database) -> DbUser:
    return await make_user(db)
