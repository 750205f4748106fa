"""Sign-in sessions and CSRF tokens of the web pages.

The session cookie holds a random session id, its expiry and an HMAC of both: never the token
it was opened with. What the session stands for (the hub: the token's digest, checked again
on each request) is kept by the server (`DirSessions`: files under the data dir). CSRF tokens
are an HMAC of a per-browser random cookie (`hubver_csrf`), so every form POST proves it came
from a page this server rendered for that browser. (`hubver ui` uses neither: no cookie there,
see hubver/web/ui.py.)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

P = TypeVar("P")

SESSION_COOKIE = "hubver_session"
CSRF_COOKIE = "hubver_csrf"
SESSION_TTL = 12 * 3600.0
MAX_SESSIONS = 10_000


def same(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any text (a browser may send non-ASCII)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


class Sessions(Generic[P]):
    """Sessions held in this process's memory (`hubver ui`: one process, one user)."""

    def __init__(self, ttl: float = SESSION_TTL, sign: Callable[..., str] | None = None) -> None:
        key = secrets.token_bytes(32)
        self._sign: Callable[..., str] = sign or (
            lambda *parts: hmac.new(key, "\n".join(map(str, parts)).encode(), hashlib.sha256).hexdigest()
        )
        self.ttl = ttl
        self._open: dict[str, tuple[P, float]] = {}
        self._lock = threading.Lock()

    def open(self, principal: P) -> str:
        """A new session for `principal`: the cookie value."""
        sid = secrets.token_urlsafe(24)
        expires = time.time() + self.ttl
        with self._lock:
            now = time.time()
            for k in [k for k, (_, e) in self._open.items() if e < now]:
                del self._open[k]
            if len(self._open) >= MAX_SESSIONS:
                self._open.pop(next(iter(self._open)))
            self._open[sid] = (principal, expires)
        stamp = str(int(expires))
        return f"{sid}.{stamp}.{self._sign('session', sid, stamp)}"

    def _sid(self, cookie: str | None) -> str | None:
        sid, _, rest = (cookie or "").partition(".")
        stamp, _, sig = rest.partition(".")
        if not sid or not stamp.isdigit() or not same(sig, self._sign("session", sid, stamp)):
            return None
        return sid if int(stamp) >= time.time() else None

    def get(self, cookie: str | None) -> P | None:
        sid = self._sid(cookie)
        if sid is None:
            return None
        with self._lock:
            entry = self._open.get(sid)
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def close(self, cookie: str | None) -> None:
        sid = self._sid(cookie)
        if sid is not None:
            with self._lock:
                self._open.pop(sid, None)

    def csrf_token(self, browser: str) -> str:
        return self._sign("csrf", browser)

    def check_csrf(self, browser: str | None, token: str | None) -> bool:
        return bool(browser and token) and same(str(token), self.csrf_token(str(browser)))


class DirSessions(Sessions[str]):
    """Sessions of the embedded hub, one 0600 file each under the data dir, so that every hub
    process serving that data dir (behind one load balancer) knows them; signed with the hub's
    shared secret. A file is named by a hash of the session id and holds the expiry and the
    principal (the hub: its token's digest, never the token)."""

    SWEEP_EVERY = 600.0

    def __init__(self, directory: Path, sign: Callable[..., str], ttl: float = SESSION_TTL) -> None:
        super().__init__(ttl, sign)
        self.dir = directory
        self._swept = 0.0

    def _path(self, sid: str) -> Path:
        return self.dir / hashlib.sha256(sid.encode()).hexdigest()

    def open(self, principal: str) -> str:
        from ..server.auth import ensure_private_dir, write_private

        ensure_private_dir(self.dir)
        self._sweep()
        sid = secrets.token_urlsafe(24)
        expires = time.time() + self.ttl
        write_private(self._path(sid), f"{expires}\n{principal}\n")
        stamp = str(int(expires))
        return f"{sid}.{stamp}.{self._sign('session', sid, stamp)}"

    def get(self, cookie: str | None) -> str | None:
        sid = self._sid(cookie)
        if sid is None:
            return None
        try:
            expires, _, principal = self._path(sid).read_text().partition("\n")
            if float(expires) < time.time():
                return None
        except (OSError, ValueError):
            return None
        return principal.strip() or None

    def close(self, cookie: str | None) -> None:
        sid = self._sid(cookie)
        if sid is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(sid))

    def _sweep(self) -> None:
        now = time.time()
        if now - self._swept < self.SWEEP_EVERY:
            return
        self._swept = now
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.dir):
                with contextlib.suppress(OSError, ValueError):
                    if entry.name.startswith("."):
                        if now - entry.stat().st_mtime > 3600:
                            os.unlink(entry.path)  # a writer's temp file, left by a kill
                        continue
                    with open(entry.path) as f:
                        if float(f.readline()) < now:
                            os.unlink(entry.path)
