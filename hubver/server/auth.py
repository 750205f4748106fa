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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .locks import dir_lock
from .names import check_name
from .storage_errors import InvalidName

ADMIN = "admin"
ADMIN_TOKEN_FILE = "admin.token"
TOKENS_FILE = "tokens.json"
SECRET_FILE = "secret"


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: str) -> None:
    """Write a 0600 file atomically: a reader, or a hub killed meanwhile, sees all of it or none."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def ensure_private_file(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The content of the secret file `path`, written first with `make()` if it is missing.

    Returns (content, created). Creation holds the data dir's lock, so hubs starting together
    agree on one value, and is atomic, so a hub killed meanwhile leaves no file rather than an
    empty one. An empty file (left by an older hub killed between creating and writing it)
    counts as missing: otherwise no hub could ever start on that data dir again.
    """
    with dir_lock(path.parent):
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            text = ""
        if text:
            return text, False
        text = make()
        write_private(path, text + "\n")
        return text, True


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "hv_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class User:
    name: str
    admin: bool = False
    orgs: tuple[str, ...] = ()
    fullname: str = ""  # shown by whoami; the name when unset

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
        token, created = ensure_private_file(path, new_token)
        # A hub killed between writing the file and registering the token registers it now.
        if created or self.authenticate(token) is None:
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
        users = {
            h: User(u["name"], bool(u.get("admin")), tuple(u.get("orgs", ())), str(u.get("fullname") or ""))
            for h, u in raw.items()
        }
        self._cache = (mtime, users)
        return users

    def add(self, token: str, user: User) -> None:
        with dir_lock(self.data_dir):
            path = self.data_dir / TOKENS_FILE
            raw = json.loads(path.read_text()) if path.exists() else {}
            self._check_casing(user, raw)
            raw[hash_token(token)] = {"name": user.name, "admin": user.admin, "orgs": list(user.orgs)}
            if user.fullname:
                raw[hash_token(token)]["fullname"] = user.fullname
            write_private(path, json.dumps(raw, indent=1))
            self._cache = None

    def _check_casing(self, user: User, raw: dict[str, dict[str, object]]) -> None:
        """Namespaces are one per name whatever the casing, as repo ids are: `ALICE` beside `alice`
        (a user or an org) would be a second owner of every `alice/...` URL spelled in capitals."""
        taken: dict[str, str] = {}
        entries: list[dict[str, object]] = [*raw.values()]
        entries += [{"name": u.name, "orgs": list(u.orgs)} for u in self._extra.values()]
        for entry in entries:
            orgs = entry.get("orgs")
            for name in [entry.get("name"), *(orgs if isinstance(orgs, list) else [])]:
                if isinstance(name, str):
                    taken.setdefault(name.lower(), name)
        check_name(user.name, "user name")
        for org in user.orgs:
            check_name(org, "namespace")
        if user.name == ADMIN and not user.admin:
            raise InvalidName(f"{ADMIN!r} is the administrator's name: pick another user name.")
        for name in (user.name, *user.orgs):
            other = taken.get(name.lower())
            if other is not None and other != name:
                raise InvalidName(
                    f"Namespace {name!r} differs from the existing {other!r} only in case; "
                    "namespaces are case-insensitive, as repository ids are."
                )

    def create_user(
        self, name: str, *, admin: bool = False, orgs: tuple[str, ...] = (), fullname: str = ""
    ) -> str:
        """Register a new token for `name`; the plaintext is returned once and never stored."""
        token = new_token()
        self.add(token, User(name, admin, orgs, fullname))
        return token

    def authenticate(self, token: str) -> User | None:
        return self.user_for_digest(hash_token(token))

    def user_for_digest(self, digest: str) -> User | None:
        """The user of the token whose `hash_token` is `digest` (what a web session keeps)."""
        user = self._extra.get(digest)
        if user is not None:
            return user
        with self._lock:
            return self._load().get(digest)


class Signer:
    """HMAC-SHA256 signatures for URLs that clients call without credentials."""

    def __init__(self, data_dir: Path) -> None:
        key, _ = ensure_private_file(data_dir / SECRET_FILE, lambda: secrets.token_hex(32))
        self._key = bytes.fromhex(key)

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
