"""The rules of personal API keys (utter/services/keys.py), called directly: the secret's
form, its hash, the name rule and the database's agreement with it."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from utter.errors import Invalid
from utter.limits import API_KEY_NAME_MAX
from utter.services import keys

MIGRATION = Path(keys.__file__).parent.parent / "db" / "migrations" / "0010_api_keys.sql"


def test_a_secret_is_the_prefix_and_32_random_bytes_in_base64url() -> None:
    made = {keys.make_secret() for _ in range(20)}
    assert len(made) == 20
    for secret in made:
        assert secret.startswith("sk-utter-") and len(secret) == 9 + 43
        raw = base64.urlsafe_b64decode(secret.removeprefix("sk-utter-") + "=")
        assert len(raw) == 32
        assert keys.looks_like_key(secret)


@pytest.mark.parametrize(
    "token",
    [
        "sk-utter-xyz",
        "sk-utter-" + "A" * 42,
        "sk-utter-" + "A" * 44,
        "sk-utter-" + "A" * 42 + "=",
        "sk-utter-" + "A" * 42 + "+",
        "SK-UTTER-" + "A" * 43,
        "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ],
)
def test_only_the_keys_own_form_looks_like_a_key(token: str) -> None:
    assert not keys.looks_like_key(token)


def test_a_token_starting_like_a_key_is_never_taken_for_an_access_token() -> None:
    assert keys.is_key_like("sk-utter-xyz")
    assert not keys.is_key_like("eyJhbGciOiJIUzI1NiJ9.e30.sig")


def test_the_stored_hash_is_the_secrets_sha256() -> None:
    secret = keys.make_secret()
    assert keys.key_hash(secret) == hashlib.sha256(secret.encode()).digest()
    assert len(keys.key_hash(secret)) == 32


@pytest.mark.parametrize("name", [None, "", "x" * (API_KEY_NAME_MAX + 1)])
def test_a_name_is_required_and_bounded(name: str | None) -> None:
    with pytest.raises(Invalid, match=re.escape(keys.NAME_RULE)):
        keys.check_name(name)
    assert keys.check_name("x" * API_KEY_NAME_MAX) == "x" * API_KEY_NAME_MAX


def test_the_name_rule_is_the_databases_rule() -> None:
    found = re.search(r"char_length\(name\) between (\d+) and (\d+)", MIGRATION.read_text())
    assert found is not None
    assert (int(found[1]), int(found[2])) == (1, API_KEY_NAME_MAX)
