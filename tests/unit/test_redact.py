"""Secrets never reach what hubver writes: by key, by known value, by shape, inside URLs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubver.redact import (
    REDACTED,
    TOKEN_SHAPES,
    environment_secrets,
    is_secret_key,
    redact,
    scrub,
    scrub_data,
    strip_url_credentials,
)

pytestmark = pytest.mark.fast

_alnum = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=40, max_size=60
)
_upper_digits = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=16, max_size=16)
# One strategy per shape TOKEN_SHAPES registers (tests below check none is missing).
token_shapes = {
    "hf_": _alnum.map(lambda s: "hf_" + s),
    "gh?_": st.tuples(st.sampled_from("pousr"), _alnum).map(lambda t: f"gh{t[0]}_{t[1]}"),
    "github_pat_": _alnum.map(lambda s: "github_pat_" + s),
    "glpat-": _alnum.map(lambda s: "glpat-" + s),
    "sk-": _alnum.map(lambda s: "sk-" + s),
    "AKIA": _upper_digits.map(lambda s: "AKIA" + s),
}
any_token = st.one_of(*token_shapes.values())
# Text around a token: anything that ends a word, so the token is a token and not a longer word.
# (Glued to a letter or digit, "xhf_..." is one longer word, which the shapes do not claim.)
surrounding = st.text(alphabet=" \n\t.,;:!?()[]{}<>\"'=/@#", min_size=1, max_size=5)
prose = st.text(max_size=30)


def test_every_registered_shape_has_a_strategy():
    assert TOKEN_SHAPES.pattern.count("|") + 1 == len(token_shapes)


@given(prose, surrounding, any_token, surrounding, prose)
def test_a_token_of_any_registered_shape_never_survives_scrub(before, left, token, right, after):
    text = before + left + token + right + after
    out = scrub(text, [])
    assert token not in out
    assert REDACTED in out


@given(st.lists(st.text(min_size=8, max_size=20), min_size=1, max_size=4), prose, prose)
def test_known_secrets_are_scrubbed_even_when_they_overlap(secrets, before, after):
    text = before + "".join(secrets) + after
    out = scrub(text, secrets)
    for s in secrets:
        if s not in (before + after) and s not in REDACTED:
            assert s not in out.replace(REDACTED, "\0")


@given(
    any_token,
    st.recursive(
        st.none() | st.integers() | st.text(max_size=10),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=10,
    ),
)
def test_scrub_data_reaches_every_string_keys_included(token, data):
    doc = {"message": f"pushed with {token}", "nested": [data, {"deep": [token]}], token: 1}
    out = scrub_data(doc, [])
    assert token not in repr(out)


@pytest.mark.parametrize(
    "key", ["token", "HF_TOKEN", "api_key", "apiKey", "secret", "password", "passwd", "db_credential",
            "Authorization", "cookie", "sessionid", "auth", "x-auth-header", "private_key", "AWS_ACCESS_KEY"],
)  # fmt: skip
def test_secret_looking_keys(key):
    assert is_secret_key(key)


def test_session_id_is_a_secret_key():
    assert is_secret_key("session_id")


@pytest.mark.parametrize(
    "key", ["max_tokens", "num_tokens", "tokenizer_name", "mean_token_accuracy", "pad_token", "eos_token",
            "special_tokens", "token_ids", "pad_token_id", "author", "learning_rate"],
)  # fmt: skip
def test_keys_that_only_look_secret(key):
    assert not is_secret_key(key)


def test_redact_replaces_values_under_secret_keys_only_when_there_is_a_value():
    doc = {"token": "abc", "hyper": {"api_key": 5, "lr": 0.1}, "list": [{"password": "p"}], "secret": None}
    assert redact(doc) == {"token": REDACTED, "hyper": {"api_key": REDACTED, "lr": 0.1}, "list": [{"password": REDACTED}], "secret": None}  # fmt: skip
    assert redact({"token": ""}) == {"token": ""}


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://user:pw@host/x", "https://host/x"),
        ("HTTPS://oauth2:glpat-x@host/x.git", "HTTPS://host/x.git"),
        ("git+ssh://git@github.com/o/r", "git+ssh://github.com/o/r"),
        ("https://h/x?access_token=abc&page=2", f"https://h/x?access_token={REDACTED}&page=2"),
        ("https://h/x?a=1&X-Amz-Signature=ff", f"https://h/x?a=1&X-Amz-Signature={REDACTED}"),
        ("https://host/plain?page=2", "https://host/plain?page=2"),
    ],
)
def test_urls_lose_their_credentials(url, clean):
    assert strip_url_credentials(f"see {url} now") == f"see {clean} now"


def test_environment_secrets_are_secret_named_and_long_enough():
    env = {
        "HF_TOKEN": "hf_abcdefgh",
        "MY_API_KEY": "short",
        "PATH": "/usr/bin:/bin/secretive",
        "DB_PASSWORD": "hunter22",
    }
    assert environment_secrets(env) == {"hf_abcdefgh", "hunter22"}
