"""The review app's security rules at the HTTP level, on the engine's real ASGI app (not started, no browser).

Login only through a single-use two-minute link; every page and image needs the cookie; foreign Host, foreign
Origin and missing CSRF token are refused; /v1 stays bearer-only. starlette's TestClient speaks to the app.
"""

from __future__ import annotations

from starlette.testclient import TestClient

from daemon.runtime.app import App

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def client_for(app: App) -> TestClient:
    return TestClient(app.server.asgi, base_url=f"http://127.0.0.1:{app.server.port}", follow_redirects=False)


def login_link(client: TestClient, app: App) -> str:
    answer = client.post("/v1/ui/login", headers={"Authorization": f"Bearer {app.token}"})
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert url.startswith(f"http://127.0.0.1:{app.server.port}/login?token=")
    return url


def logged_in(app: App) -> tuple[TestClient, str]:
    """A client holding a session cookie, and the page's CSRF token."""
    client = client_for(app)
    assert client.get(login_link(client, app)).status_code == 303
    page = client.get("/")
    assert page.status_code == 200
    csrf = page.text.split('"X-CSRF-Token": "')[1].split('"')[0]
    return client, csrf


def test_the_login_link_works_once_and_sets_a_strict_http_only_cookie(engine_app: App) -> None:
    client = client_for(engine_app)
    url = login_link(client, engine_app)
    first = client.get(url)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("ie_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/").status_code == 200

    other = client_for(engine_app)
    again = other.get(url)  # the same link a second time: spent
    assert again.status_code == 401 and "image-engine ui" in again.text
    assert other.get("/").status_code == 401
    assert client_for(engine_app).get("/login?token=made-up").status_code == 401


def test_the_login_link_expires_after_two_minutes(engine_app: App) -> None:
    sessions = engine_app.server.review.sessions
    client = client_for(engine_app)
    url = login_link(client, engine_app)
    started = sessions.clock()
    sessions.clock = lambda: started + 121  # the edge of the world: a clock two minutes later
    assert client.get(url).status_code == 401
    assert client.get("/").status_code == 401


def test_without_the_cookie_every_page_and_image_is_refused_with_how_to_open_it(engine_app: App) -> None:
    client = client_for(engine_app)
    for path in ("/", "/activity", "/library", "/photo/1", "/image/thumb/1", "/fragments/overview"):
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert "image-engine ui" in answer.text, path
        assert answer.headers["content-security-policy"].startswith("default-src 'none'"), path
    assert client.post("/actions/pause").status_code == 401
    assert client.get("/../../etc/passwd").status_code == 404  # not a page: 404 for everyone, as before the app
    assert client.get("/static/htmx.min.js").status_code == 200  # the script itself is no secret


def test_a_foreign_host_is_refused_even_with_a_session(engine_app: App) -> None:
    client, _ = logged_in(engine_app)
    port = engine_app.server.port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}"):
        assert client.get("/", headers={"Host": host}).status_code == 403, host
    assert client.get("/", headers={"Host": f"localhost:{port}"}).status_code == 200


def test_state_changes_need_the_csrf_token_and_the_apps_own_origin(engine_app: App) -> None:
    client, csrf = logged_in(engine_app)
    origin = f"http://127.0.0.1:{engine_app.server.port}"
    refused = [
        {},
        {"Origin": origin},
        {"X-CSRF-Token": csrf},
        {"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
        {"X-CSRF-Token": csrf, "Origin": "null"},
        {"X-CSRF-Token": "wrong", "Origin": origin},
    ]
    for headers in refused:
        assert client.post("/actions/pause", headers=headers).status_code == 403, headers
    assert not engine_app.control.paused  # nothing happened
    done = client.post("/actions/pause", headers={"X-CSRF-Token": csrf, "Origin": origin})
    assert done.status_code == 200 and "Paused" in done.text
    assert engine_app.control.paused


def test_pages_carry_a_strict_csp_and_the_other_security_headers(engine_app: App) -> None:
    client, _ = logged_in(engine_app)
    for path in ("/", "/activity", "/library"):
        answer = client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers[name] == value, (path, name)
        assert "<script>" not in answer.text and " style=" not in answer.text  # nothing inline for the CSP to allow


def test_v1_stays_bearer_only(engine_app: App) -> None:
    client, _ = logged_in(engine_app)  # a session cookie is no key to the control API
    assert client.get("/v1/status").status_code == 401
    assert client.post("/v1/ui/login").status_code == 401
    assert client.get("/v1/status", headers={"Authorization": f"Bearer {engine_app.token}"}).status_code == 200
