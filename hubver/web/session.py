"""Sign-in sessions and CSRF tokens of the web pages.

The session cookie holds a random session id, its expiry and an HMAC of both: never the token
it was opened with. What the session stands for (the hub: the token, checked again on each
request; `hubver ui`: "the launcher") stays in this process's memory; a restart signs everyone out. CSRF tokens are an
HMAC of a per-browser random cookie (`hubver_csrf`), so every form POST proves it came from a
page this server rendered for that browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Generic, TypeVar

P = TypeVar("P")

SESSION_COOKIE = "hubver_session"
CSRF_COOKIE = "hubver_csrf"
SESSION_TTL = 12 * 3600.0
MAX_SESSIONS = 10_000


class Sessions(Generic[P]):
    def __init__(self, ttl: float = SESSION_TTL) -> None:
        self._key = secrets.token_bytes(32)
        self.ttl = ttl
        self._open: dict[str, tuple[P, float]] = {}
        self._lock = threading.Lock()

    def _sign(self, *parts: str) -> str:
        return hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

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
        if not sid or not stamp.isdigit() or not hmac.compare_digest(sig, self._sign("session", sid, stamp)):
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
        return bool(browser and token) and hmac.compare_digest(str(token), self.csrf_token(str(browser)))
