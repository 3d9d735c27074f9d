"""The review app's guard: loopback Host only, one-time login links, session cookies, CSRF + Origin, headers.

Every page, fragment and image needs the session cookie; every state-changing request also needs the session's
CSRF token (X-CSRF-Token header) and an Origin equal to the app's own. /v1 never passes through here.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from daemon.web.api import LOOPBACK_HOSTS

COOKIE = "ie_session"
LOGIN_SECONDS = 120.0
SESSION_SECONDS = 7 * 24 * 3600.0
MAX_SESSIONS = 64
PUBLIC_PATHS = ("/login", "/static/", "/favicon.ico")
SAFE_METHODS = frozenset({"GET", "HEAD"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class Sessions:
    """One-time login tokens (single use, two minutes) and the sessions they open, in memory only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._logins: dict[str, float] = {}
        self._sessions: dict[str, tuple[str, float]] = {}  # session id -> (csrf token, expires)
        self._lock = threading.Lock()

    def issue_login(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            self._logins = {t: until for t, until in self._logins.items() if until > now}
            self._logins[token] = now + LOGIN_SECONDS
        return token

    def redeem(self, token: str) -> str | None:
        """A new session id for a valid, unused, unexpired login token; the token is spent either way."""
        with self._lock:
            until = self._logins.pop(token, None)
            now = self.clock()
            if until is None or until < now:
                return None
            self._sessions = {s: v for s, v in self._sessions.items() if v[1] > now}
            while len(self._sessions) >= MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
            session = secrets.token_urlsafe(32)
            self._sessions[session] = (secrets.token_urlsafe(24), now + SESSION_SECONDS)
            return session

    def csrf(self, session: str | None) -> str | None:
        """The session's CSRF token, or None when the session is unknown or expired."""
        if not session:
            return None
        with self._lock:
            found = self._sessions.get(session)
        if found is None or found[1] < self.clock():
            return None
        return found[0]


class Guard:
    """ASGI middleware in front of the review app's pages."""

    def __init__(
        self,
        app: Asgi,
        sessions: Sessions,
        port: int,
        refused: Callable[[str], bytes],
        known: Callable[[Scope], bool] = lambda scope: True,
    ):
        self.app = app
        self.known = known  # does a route answer this path? Others are 404 for everyone, as before the app
        self.sessions = sessions
        self.hosts = {f"{host}:{port}" for host in LOOPBACK_HOSTS if host != "::1"}
        self.refused = refused  # (reason) -> the HTML page that says how to open the app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the app has none: refuse rather than route one past the checks
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in HEADERS if h[0] not in names)]
            await send(message)

        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host", "")
        if host not in self.hosts:  # DNS rebinding: a foreign name that resolves to 127.0.0.1
            await _reply(send_with_headers, 403, b"unexpected Host header", "text/plain")
            return
        path = scope["path"]
        if not self.known(scope):
            await _reply(send_with_headers, 404, b"not found", "text/plain")
            return
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC_PATHS):
            await self.app(scope, receive, send_with_headers)
            return
        cookie = _cookie(headers.get("cookie", ""), COOKIE)
        csrf = self.sessions.csrf(cookie)
        if csrf is None:
            await _reply(send_with_headers, 401, self.refused("You are not logged in."), "text/html; charset=utf-8")
            return
        if scope["method"] not in SAFE_METHODS:
            if headers.get("origin") != f"http://{host}":
                await _reply(send_with_headers, 403, b"cross-origin request refused", "text/plain")
                return
            if not hmac.compare_digest(headers.get("x-csrf-token", "").encode(), csrf.encode()):
                await _reply(send_with_headers, 403, b"missing or wrong CSRF token: reload the page", "text/plain")
                return
        scope.setdefault("state", {})["csrf"] = csrf
        await self.app(scope, receive, send_with_headers)


def session_cookie(session: str) -> str:
    return f"{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={int(SESSION_SECONDS)}"


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _reply(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
