"""Lenient request parsing (utter/api/forms.py): trimmed strings, blank = missing, bad path
ids are 404s, and paging values that never reach the database unclamped."""

from __future__ import annotations

import math
import uuid

import pytest

from tests.support.refusals import status_and_detail
from utter.api.forms import MAX_PAGE, MAX_PER_PAGE, Body, Text, page_params, pagination, parse_id
from utter.errors import NUL_MESSAGE, UNICODE_MESSAGE


class Named(Body):
    name: Text = None
    note: Text = None


def test_strings_are_trimmed_and_blank_or_non_strings_count_as_missing() -> None:
    assert Named.model_validate({"name": "  Ada \n"}).name == "Ada"
    assert Named.model_validate({"name": "   "}).name is None
    assert Named.model_validate({"name": ""}).name is None
    assert Named.model_validate({"name": 42}).name is None
    assert Named.model_validate({"name": ["Ada"]}).name is None
    assert Named.model_validate({}).name is None


def test_unknown_keys_are_ignored() -> None:
    assert Named.model_validate({"name": "Ada", "extra": 1}).model_dump() == {
        "name": "Ada",
        "note": None,
    }


@pytest.mark.parametrize(
    ("value", "detail"), [("a\x00b", NUL_MESSAGE), ("a\ud800b", UNICODE_MESSAGE)]
)
def test_text_postgres_cannot_store_is_a_400_not_a_validation_error(
    value: str, detail: str
) -> None:
    with pytest.raises(Exception) as caught:
        Named.model_validate({"name": "fine", "note": value})
    assert status_and_detail(caught.value) == (400, detail)


def test_a_path_id_is_a_uuid_or_the_routes_own_404() -> None:
    value = uuid.uuid4()
    assert parse_id(str(value), "Voice not found") == value
    for bad in ("", "not-a-uuid", "123", str(value) + "0", "../" + str(value)):
        with pytest.raises(Exception) as caught:
            parse_id(bad, "Voice not found")
        assert status_and_detail(caught.value) == (404, "Voice not found"), bad


@pytest.mark.parametrize(
    ("page", "per_page", "expected"),
    [
        (None, None, (1, 20)),
        ("2", "50", (2, 50)),
        ("abc", "", (1, 20)),
        ("nan", "NaN", (1, 20)),
        ("2.9", "10.5", (2, 10)),
        ("0", "0", (1, 1)),
        ("-5", "-1", (1, 1)),
        ("1e300", "1e300", (MAX_PAGE, MAX_PER_PAGE)),
        ("inf", "inf", (MAX_PAGE, MAX_PER_PAGE)),
        ("-inf", "-inf", (1, 1)),
        (str(10**30), "101", (MAX_PAGE, MAX_PER_PAGE)),
    ],
)
def test_paging_is_lenient_and_clamped(
    page: str | None, per_page: str | None, expected: tuple[int, int]
) -> None:
    assert page_params(page, per_page) == expected


def test_the_clamps_keep_the_offset_inside_postgres_bigint() -> None:
    page, per_page = page_params("inf", "inf")
    assert (page - 1) * per_page < 2**63 - 1
    assert (MAX_PAGE, MAX_PER_PAGE) == (100_000, 100)


@pytest.mark.parametrize(
    ("total", "per_page", "pages"),
    [(0, 20, 1), (1, 20, 1), (20, 20, 1), (21, 20, 2), (201, 100, 3)],
)
def test_pagination_counts_pages_with_at_least_one(total: int, per_page: int, pages: int) -> None:
    assert pagination(3, per_page, total) == {
        "page": 3,
        "per_page": per_page,
        "total": total,
        "pages": pages,
    }
    assert pages == max(1, math.ceil(total / per_page))
