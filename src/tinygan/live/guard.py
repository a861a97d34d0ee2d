"""Only its user's own browser steers the live view.

Three attacks are refused, each before the app sees the request:
- DNS rebinding: a page of evil.example.com whose name is made to point at 127.0.0.1 reads the session,
  samples and checkpoints as "same-origin". Its requests name evil.example.com in their Host header: on
  loopback, a Host that is not the address served is refused.
- Cross-site requests: any page the user visits may POST a form (text/plain needs no preflight) or open a
  WebSocket to localhost. Browsers name the page in an Origin header: a POST, PUT, PATCH, DELETE or WebSocket
  whose Origin is not the address served is refused. (Clients that are not browsers send no Origin.)
- Other machines, when the server listens beyond loopback: every request needs the random token printed at
  start (as Jupyter does), given once as ?token=... (the page's address), then held in a cookie.

JSON bodies must say application/json (app.py), so a form cannot pass for one either.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
COOKIE = "tinygan_token"
CHANGES = ("POST", "PUT", "PATCH", "DELETE")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def split_host(host: str) -> tuple[str, str]:
    """A Host header (or an origin's netloc) as (name, port): "[::1]:8000" -> ("::1", "8000")."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name, port


class Guard:
    """ASGI middleware around the live view's app, serving on `port` of `names` (loopback: its own names, and
    Host is checked), or anywhere with `token` required (listening beyond loopback: Host cannot be known)."""

    def __init__(self, app, *, port: int, names: tuple[str, ...] = LOOPBACK_NAMES, token: str | None = None):
        self.app, self.port, self.names, self.token = app, str(port), names, token

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        refusal, from_query = self.refusal(scope)
        if refusal is not None:
            if scope["type"] == "websocket":
                return await WebSocket(scope, receive, send).close(code=1008, reason=refusal)
            return await JSONResponse({"error": refusal}, status_code=403)(scope, receive, send)
        if not from_query:
            return await self.app(scope, receive, send)

        async def with_cookie(message):  # the token came in the address: the browser keeps it from now on
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        return await self.app(scope, receive, with_cookie)

    def refusal(self, scope) -> tuple[str | None, bool]:
        """Why a request is refused (None: it is not), and whether it carried the token in its address."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.token is None:
            name, port = split_host(host)
            if name not in self.names or (port or "80") != self.port:
                return f"Host {host[:80]!r} is not this server's address (a DNS-rebinding page?)", False
        origin = headers.get("origin")
        if origin is not None and (scope["type"] == "websocket" or scope.get("method") in CHANGES):
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or split_host(parts.netloc) != split_host(host):
                return f"a request from another site ({origin[:80]}) may not steer this server", False
        if self.token is None:
            return None, False
        given = QueryParams(scope.get("query_string", b"")).get("token")
        if given is not None and secrets.compare_digest(given, self.token):
            return None, True
        cookie = _cookie(headers.get("cookie", ""), COOKIE)
        if cookie is not None and secrets.compare_digest(cookie, self.token):
            return None, False
        return "this server needs its token: open the address it printed at start (…/?token=…)", False


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
