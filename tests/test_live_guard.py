"""Only the user's own browser steers the live view (live/guard.py): each attack sent, nothing changed."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import tinygan
from tinygan.live.app import create_app
from tinygan.live.guard import COOKIE, LOOPBACK_NAMES, Guard, split_host
from tinygan.live.session import Session
from tinygan.live.settings import settings_of

PORT = 8123
HOME = f"http://127.0.0.1:{PORT}"
EVIL = "http://evil.example.com"
LIVE = f"ws://127.0.0.1:{PORT}/api/live"  # the test client's sockets name their own host otherwise


@pytest.fixture(scope="module")
def session():
    live = Session(tinygan.config_from_preset("seed", num_steps=100_000))
    try:
        yield live
    finally:
        live.close()


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    return tmp_path_factory.mktemp("uploads")


def client(session, uploads, *, token=None, base_url=HOME) -> TestClient:
    app = Guard(create_app(session, uploads=uploads), port=PORT, names=LOOPBACK_NAMES, token=token)
    return TestClient(app, base_url=base_url, raise_server_exceptions=False)


def learning_rate(session) -> float:
    return settings_of(session.config)["generator_learning_rate"]


def test_the_users_own_page_works(session, uploads):
    with client(session, uploads) as page:
        assert page.get("/").status_code == 200
        reply = page.post("/api/settings", json={"generator_learning_rate": 0.004}, headers={"Origin": HOME})
        assert reply.status_code == 200, reply.text
        assert learning_rate(session) == 0.004
        with page.websocket_connect(LIVE, headers={"Origin": HOME}) as live:
            assert live.receive_json()["type"] == "scene"


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:8123", "127.0.0.1:9999", "10.0.0.1:8123"])
def test_a_dns_rebinding_page_reads_nothing(session, uploads, host):
    with client(session, uploads) as page:
        for path in ("/", "/api/session", "/api/download/samples", "/api/download/checkpoint", "/api/download/config"):
            reply = page.get(path, headers={"Host": host})
            assert reply.status_code == 403 and "not this server's address" in reply.json()["error"], path
        with pytest.raises(WebSocketDisconnect) as closed, page.websocket_connect(LIVE, headers={"Host": host}):
            pass
        assert closed.value.code == 1008


@pytest.mark.parametrize("host", [f"localhost:{PORT}", f"127.0.0.1:{PORT}", f"[::1]:{PORT}", f"LOCALHOST:{PORT}"])
def test_every_name_of_this_machine_is_its_address(session, uploads, host):
    with client(session, uploads) as page:
        assert page.get("/api/session", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("origin", [EVIL, f"{EVIL}:{PORT}", "null", f"http://127.0.0.1:{PORT + 1}"])
def test_a_cross_site_post_changes_nothing(session, uploads, origin):
    """The attack of issue 16: a form's text/plain POST from another site, and the same as JSON."""
    before = learning_rate(session)
    with client(session, uploads) as page:
        for headers, body in (({"content-type": "text/plain"}, '{"generator_learning_rate": 5}'),
                              ({"content-type": "application/json"}, '{"generator_learning_rate": 5}')):
            reply = page.post("/api/settings", content=body, headers={**headers, "Origin": origin})
            assert reply.status_code == 403 and "another site" in reply.json()["error"]
        reply = page.post("/api/control", json={"action": "play"}, headers={"Origin": origin})
        assert reply.status_code == 403 and not session.playing
        reply = page.post("/api/upload", content=b"1\n2\n3\n", headers={"content-type": "text/plain", "Origin": origin})
        assert reply.status_code == 403
    assert learning_rate(session) == before


def test_a_cross_site_websocket_is_refused(session, uploads):
    with client(session, uploads) as page:
        with pytest.raises(WebSocketDisconnect) as closed, page.websocket_connect(LIVE,
                                                                              headers={"Origin": EVIL}):
            pass
    assert closed.value.code == 1008


def test_json_comes_as_application_json_only(session, uploads):
    before = learning_rate(session)
    with client(session, uploads) as page:  # no Origin (not a browser): still, a body must say it is JSON
        for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
            headers = {"content-type": kind} if kind else {}
            reply = page.post("/api/settings", content=b'{"generator_learning_rate": 5}', headers=headers)
            assert reply.status_code == 415 and "application/json" in reply.json()["error"]
    assert learning_rate(session) == before


def test_beyond_loopback_every_request_needs_the_token(session, uploads):
    token = "s3cret-token"
    with client(session, uploads, token=token, base_url="http://192.168.1.20:8123") as page:
        for path in ("/", "/api/session", "/api/download/checkpoint"):
            assert page.get(path).status_code == 403
        assert page.get("/api/session?token=wrong").status_code == 403
        page.cookies.set(COOKIE, "wrong")
        assert page.get("/api/session").status_code == 403
        page.cookies.clear()
        with pytest.raises(WebSocketDisconnect), page.websocket_connect(LIVE):
            pass
        first = page.get(f"/?token={token}")  # the address printed at start: the page, and a cookie for the rest
        assert first.status_code == 200
        assert f"{COOKIE}={token}" in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
        assert page.get("/api/session").status_code == 200  # the cookie, from now on
        with page.websocket_connect("ws://192.168.1.20:8123/api/live") as live:  # the cookie's host
            assert live.receive_json()["type"] == "scene"
        reply = page.post("/api/settings", json={"generator_learning_rate": 5}, headers={"Origin": EVIL})
        assert reply.status_code == 403  # the token does not let another site in


def test_hosts_and_origins_split_as_browsers_write_them():
    assert split_host("[::1]:8000") == ("::1", "8000")
    assert split_host("LocalHost:80") == ("localhost", "80")
    assert split_host("127.0.0.1") == ("127.0.0.1", "")
