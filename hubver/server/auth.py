"""Who may do what on the embedded hub: hashed tokens, users, and signed upload URLs.

Secrets live in the data dir (0700): `tokens.json` holds only sha256 hashes of tokens;
`secret` is the HMAC key that signs LFS upload URLs; `admin.token` is the one plaintext
credential, written only when the administrator did not bring a token of their own, so
that they (and `hubver --local`) can read it back, like huggingface_hub's own token file.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .gitstore import dir_lock

ADMIN = "admin"
ADMIN_TOKEN_FILE = "admin.token"
TOKENS_FILE = "tokens.json"
SECRET_FILE = "secret"


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: str, *, exclusive: bool = False) -> bool:
    """Write a 0600 file atomically. With `exclusive`, only if it does not exist yet (returns False)."""
    if exclusive:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(data)
        return True
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def _read_when_written(path: Path) -> str:
    """Read a file another process may be creating right now (created, then written)."""
    for _ in range(50):
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hv_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class User:
    name: str
    admin: bool = False
    orgs: tuple[str, ...] = ()

    def owns(self, namespace: str) -> bool:
        return self.admin or namespace == self.name or namespace in self.orgs


@dataclass
class TokenStore:
    data_dir: Path
    admin_token: str | None = None
    _extra: dict[str, User] = field(default_factory=dict)
    _cache: tuple[float, dict[str, User]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        ensure_private_dir(self.data_dir)
        if self.admin_token:
            self._extra[hash_token(self.admin_token)] = User(ADMIN, admin=True)

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / ADMIN_TOKEN_FILE

    def ensure_admin_token(self) -> Path:
        """Generate the administrator's token on first start; returns where it is stored."""
        path = self.admin_token_file
        token = new_token()
        if write_private(path, token + "\n", exclusive=True):
            self.add(token, User(ADMIN, admin=True))
        else:
            token = _read_when_written(path)
            if self.authenticate(token) is None:
                self.add(token, User(ADMIN, admin=True))
        return path

    def _load(self) -> dict[str, User]:
        path = self.data_dir / TOKENS_FILE
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if self._cache and self._cache[0] == mtime:
            return self._cache[1]
        raw = json.loads(path.read_text())
        users = {h: User(u["name"], bool(u.get("admin")), tuple(u.get("orgs", ()))) for h, u in raw.items()}
        self._cache = (mtime, users)
        return users

    def add(self, token: str, user: User) -> None:
        with dir_lock(self.data_dir):
            path = self.data_dir / TOKENS_FILE
            raw = json.loads(path.read_text()) if path.exists() else {}
            raw[hash_token(token)] = {"name": user.name, "admin": user.admin, "orgs": list(user.orgs)}
            write_private(path, json.dumps(raw, indent=1))
            self._cache = None

    def create_user(self, name: str, *, admin: bool = False, orgs: tuple[str, ...] = ()) -> str:
        """Register a new token for `name`; the plaintext is returned once and never stored."""
        token = new_token()
        self.add(token, User(name, admin, orgs))
        return token

    def authenticate(self, token: str) -> User | None:
        digest = hash_token(token)
        user = self._extra.get(digest)
        if user is not None:
            return user
        with self._lock:
            return self._load().get(digest)


class Signer:
    """HMAC-SHA256 signatures for URLs that clients call without credentials."""

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / SECRET_FILE
        write_private(path, secrets.token_hex(32), exclusive=True)
        self._key = bytes.fromhex(_read_when_written(path))

    def sign(self, *parts: object) -> str:
        msg = "\n".join(str(p) for p in parts).encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def check(self, sig: str, expires: str, *parts: object) -> str | None:
        """None if valid, else why not."""
        with contextlib.suppress(ValueError, TypeError):
            if not hmac.compare_digest(sig, self.sign(expires, *parts)):
                return "the upload URL's signature is invalid (was it altered?)"
            if int(expires) < time.time():
                return "the upload URL has expired; ask for a new one"
            return None
        return "the upload URL is malformed"
