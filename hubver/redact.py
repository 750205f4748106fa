"""Keeping secrets out of everything hubver writes: metadata, model cards, logs, errors.

Two nets: values under keys that look secret are replaced wholesale, and any known secret
value (tokens from the environment, the token in use) is scrubbed from free text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(
    r"token|secret|passw(or)?d|api[_-]?key|access[_-]?key|private[_-]?key|credential|authorization|cookie"
    r"|session[_-]?id|(^|[_-])auth($|[_-])",
    re.IGNORECASE,
)
# Keys with a secret-looking word that are plainly not secrets: token counts, special tokens,
# tokenizer settings, metrics such as mean_token_accuracy.
_NOT_SECRET = re.compile(
    r"tokens|tokenizer|token_acc|(?<!session)_ids?$|^(max|min|num)_|^(pad|eos|bos|unk|sep|cls|mask|special)_token",
    re.IGNORECASE,
)
_MIN_SECRET_LEN = 8
# Tokens recognisable by their shape, even when hubver was never told them (pasted into -m):
# Hugging Face, GitHub, GitLab, OpenAI-style and AWS access keys.
TOKEN_SHAPES = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|glpat-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9_-]{32,}|AKIA[0-9A-Z]{16})\b"
)
# Credentials inside URLs, wherever a URL appears: userinfo (`https://user:pass@host`, any
# scheme, any case) and query parameters whose names carry credentials (`?access_token=...`).
_URL_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/?#\s@]*@", re.IGNORECASE)
_CREDENTIAL_PARAMS = (
    r"token|access_token|refresh_token|id_token|private_token|auth|authorization|key|api_key|apikey"
    r"|access_key|secret|client_secret|password|passwd|pwd|pass|sig|signature|x-amz-signature"
    r"|x-amz-credential|x-amz-security-token|credential|session|code"
)
_URL_QUERY_SECRET = re.compile(rf"([?&;](?:{_CREDENTIAL_PARAMS})=)[^&#;\s]*", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _NOT_SECRET.search(key)


def redact(value: Any) -> Any:
    """A copy of `value` with every entry under a secret-looking key replaced by '<redacted>'."""
    if isinstance(value, dict):
        return {
            k: (
                REDACTED
                if isinstance(k, str) and is_secret_key(k) and v not in (None, "", [], {})
                else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def environment_secrets(env: Mapping[str, str] | None = None) -> set[str]:
    """Values of environment variables whose names look secret (HF_TOKEN, ..._API_KEY, ...)."""
    env = os.environ if env is None else env
    return {v for k, v in env.items() if is_secret_key(k) and len(v) >= _MIN_SECRET_LEN}


def known_secrets(extra: Iterable[str | None] = ()) -> set[str]:
    secrets = environment_secrets()
    secrets.update(s for s in extra if s and len(s) >= _MIN_SECRET_LEN)
    try:
        from huggingface_hub import get_token

        token = get_token()
        if token:
            secrets.add(token)
    except Exception:  # no huggingface_hub or unreadable token file: nothing to add
        pass
    return secrets


def strip_url_credentials(text: str) -> str:
    """`text` with the credentials of every URL in it removed.

    >>> strip_url_credentials("see HTTPS://oauth2:glpat-x@host/x.git?access_token=abc&page=2")
    'see HTTPS://host/x.git?access_token=<redacted>&page=2'
    """
    text = _URL_USERINFO.sub(r"\1", text)
    return _URL_QUERY_SECRET.sub(r"\1" + REDACTED, text)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret value in `text` (longest first so overlaps cannot leak a suffix),
    and strip the credentials of any URL in it."""
    for s in sorted(set(secrets), key=len, reverse=True):
        if s:
            text = text.replace(s, REDACTED)
    text = strip_url_credentials(text)
    text = TOKEN_SHAPES.sub(REDACTED, text)
    return re.sub(r"(sig=)[0-9a-f]{16,}", r"\1" + REDACTED, text)


def scrub_data(value: Any, secrets: Iterable[str]) -> Any:
    """`redact` plus `scrub` of every string inside `value`."""
    secrets = list(secrets)
    value = redact(value)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return scrub(v, secrets)
        if isinstance(v, dict):
            return {walk(k) if isinstance(k, str) else k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)
