"""The console's JSON API at /ui/api against a real gateway: sign-in, roles, CSRF, headers, the key shown once."""

from __future__ import annotations

import re
import time
from contextlib import closing

import httpx
import orjson

from tests.support.gateway import MASTER_KEY, RunningProcess, admin, new_key

ASSETS = ("/ui/", "/ui/static/app.js", "/ui/static/app.css")


def signed_in(gateway: RunningProcess, key: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=gateway.base_url, timeout=30)
    response = client.post("/ui/api/session", json={"key": key})
    assert response.status_code == 200, response.text
    return client, response.json()["csrf"]


def test_page_and_assets_carry_strict_headers_and_fit_the_budget(console_gateway: RunningProcess) -> None:
    total = 0
    for path in ASSETS:
        response = httpx.get(console_gateway.base_url + path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        total += len(response.content)
    assert total <= 200 * 1024, f"first load is {total} bytes"
    html = httpx.get(console_gateway.base_url + "/ui/").text
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert " style=" not in html and "<style" not in html, "inline style"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "a resource from another host"
    assert httpx.get(console_gateway.base_url + "/ui/static/../app.py").status_code == 404
    bare = httpx.get(console_gateway.base_url + "/ui")
    assert bare.is_redirect and bare.headers["location"].endswith("/ui/")


def test_sign_in_sets_a_strict_cookie_that_does_not_hold_the_key(console_gateway: RunningProcess) -> None:
    refused = httpx.post(console_gateway.base_url + "/ui/api/session", json={"key": "sk-wrong"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    assert refused.json()["error"]["message"]
    response = httpx.post(console_gateway.base_url + "/ui/api/session", json={"key": MASTER_KEY})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in flags and "max-age" in flags
    assert flags["samesite"].strip().lower() == "samesite=strict"
    assert flags["path"].strip() == "Path=/ui"
    assert MASTER_KEY not in cookie and MASTER_KEY not in response.text
    assert response.json()["role"] == "admin"


def test_state_changing_calls_need_the_csrf_token_and_the_same_origin(console_gateway: RunningProcess) -> None:
    client, csrf = signed_in(console_gateway, MASTER_KEY)
    with closing(client):
        assert client.post("/ui/api/keys", json={}).status_code == 403
        assert client.post("/ui/api/keys", json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
        cross = client.post("/ui/api/keys", json={}, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
        assert cross.status_code == 403 and cross.json()["error"]["code"] == "csrf_failed"
        assert client.delete("/ui/api/session").status_code == 403  # sign-out is state-changing too
        chat = client.post("/ui/api/chat", json={"model": "alpha", "messages": [{"role": "user", "content": "x"}]})
        assert chat.status_code == 403
        assert client.post("/ui/api/keys", json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
    anonymous = httpx.get(console_gateway.base_url + "/ui/api/keys")
    assert anonymous.status_code == 401


def test_a_new_key_is_shown_once_and_never_again(console_gateway: RunningProcess) -> None:
    client, csrf = signed_in(console_gateway, MASTER_KEY)
    with closing(client):
        made = client.post(
            "/ui/api/keys", json={"key_alias": "shown-once", "max_budget": 2}, headers={"X-CSRF-Token": csrf}
        )
        assert made.status_code == 200, made.text
        secret = made.json()["key"]
        assert secret.startswith("sk-")
        listed = client.get("/ui/api/keys")
        assert listed.status_code == 200
        assert secret not in listed.text
        aliases = [k["key_alias"] for k in listed.json()["keys"]]
        assert "shown-once" in aliases
        updated = client.post(
            "/ui/api/keys/update", json={"key": "shown-once", "rpm_limit": 7}, headers={"X-CSRF-Token": csrf}
        )
        assert updated.status_code == 200 and updated.json()["rpm_limit"] == 7
        for path in ("/ui/api/usage", "/ui/api/usage.csv", "/ui/api/health", "/ui/api/session"):
            assert secret not in client.get(path).text, path
    assert secret not in console_gateway.log() and MASTER_KEY not in console_gateway.log()


def test_a_key_holder_sees_only_their_own_key_and_cannot_manage_keys(console_gateway: RunningProcess) -> None:
    mine = new_key(console_gateway, key_alias="holder", max_budget=5)
    other = new_key(console_gateway, key_alias="someone-else")
    client, csrf = signed_in(console_gateway, mine)
    with closing(client):
        assert client.get("/ui/api/session").json()["role"] == "key"
        keys = client.get("/ui/api/keys").json()
        assert keys["role"] == "key" and [k["key_alias"] for k in keys["keys"]] == ["holder"]
        assert keys["keys"][0]["max_budget"] == 5
        headers = {"X-CSRF-Token": csrf}
        assert client.post("/ui/api/keys/revoke", json={"keys": ["someone-else"]}, headers=headers).status_code == 403
        assert client.post("/ui/api/keys", json={}, headers=headers).status_code == 403
        assert (
            client.post("/ui/api/keys/update", json={"key": "holder", "max_budget": 99}, headers=headers).status_code
            == 403
        )
        assert "someone-else" not in client.get("/ui/api/usage").text
    assert mine not in console_gateway.log() and other not in console_gateway.log()


def _stream(client: httpx.Client, csrf: str, model: str, text: str) -> str:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 16,
    }
    reply = ""
    with client.stream("POST", "/ui/api/chat", json=body, headers={"X-CSRF-Token": csrf}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                event = orjson.loads(line[6:])
                if event.get("choices"):
                    reply += event["choices"][0]["delta"].get("content") or ""
    return reply


def test_the_playground_streams_through_the_session_key_and_usage_counts_it(console_gateway: RunningProcess) -> None:
    key = new_key(console_gateway, key_alias="playground-user")
    client, csrf = signed_in(console_gateway, key)
    with closing(client):
        models = [m["id"] for m in client.get("/ui/api/models").json()["data"]]
        assert set(models) == {"alpha", "beta"}
        assert _stream(client, csrf, "alpha", "hello console") == "[a] hello console"
        assert _stream(client, csrf, "beta", "second model") == "[b] second model"
        bad = client.post("/ui/api/chat", json={"model": "nope", "messages": []}, headers={"X-CSRF-Token": csrf})
        assert bad.status_code >= 400 and "error" in bad.json()
        usage = client.get("/ui/api/usage?days=1").json()
        assert usage["totals"]["requests"] >= 2
        by_model = {r["name"]: r for r in usage["by"]["model"]}
        assert by_model["alpha"]["requests"] == 1 and by_model["alpha"]["spend"] > 0
        assert [r["name"] for r in usage["by"]["key"]] == ["playground-user"]
        chart = client.get("/ui/api/usage/chart.svg?by=model&measure=requests")
        assert chart.headers["content-type"].startswith("image/svg+xml") and ">alpha<" in chart.text
        assert "<script" not in chart.text
        csv_text = client.get("/ui/api/usage.csv?days=1").text
        assert csv_text.splitlines()[0].startswith("started_at,key,model") and ",alpha," in csv_text
        assert client.get("/ui/api/usage?days=0").status_code == 400


def test_the_playground_lists_chat_models_only(console_gateway: RunningProcess) -> None:
    gateway_models = admin(console_gateway, "GET", "/v1/models").json()["data"]
    assert {m["id"] for m in gateway_models} == {"alpha", "beta", "all-minilm-l6-v2"}
    client, _ = signed_in(console_gateway, MASTER_KEY)
    with closing(client):
        listed = client.get("/ui/api/models")
    assert listed.status_code == 200 and listed.json()["object"] == "list"
    assert sorted(m["id"] for m in listed.json()["data"]) == ["alpha", "beta"]  # the embeddings model is left out


def test_health_lists_every_deployment_and_probes_the_servers(console_gateway: RunningProcess) -> None:
    client, _ = signed_in(console_gateway, MASTER_KEY)
    with closing(client):
        health = client.get("/ui/api/health").json()
    assert set(health["deployments"]) == {"alpha", "beta", "all-minilm-l6-v2"}
    assert health["deployments"]["all-minilm-l6-v2"][0]["mode"] == "embedding"
    assert health["deployments"]["alpha"][0]["mode"] == "chat"
    assert all(d["healthy"] for group in health["deployments"].values() for d in group)
    assert len(health["servers"]) == 2 and all(s["reachable"] for s in health["servers"])


def test_sign_out_ends_the_session_and_a_revoked_key_loses_its_sessions(console_gateway: RunningProcess) -> None:
    client, csrf = signed_in(console_gateway, MASTER_KEY)
    with closing(client):
        cookie = client.cookies["inferstack_console"]
        assert client.delete("/ui/api/session", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert client.get("/ui/api/session").status_code == 401
    replay = httpx.get(console_gateway.base_url + "/ui/api/session", cookies={"inferstack_console": cookie})
    assert replay.status_code == 401
    doomed = new_key(console_gateway, key_alias="doomed")
    holder, _ = signed_in(console_gateway, doomed)
    admin, admin_csrf = signed_in(console_gateway, MASTER_KEY)
    with closing(holder), closing(admin):
        assert holder.get("/ui/api/keys").status_code == 200
        revoked = admin.post("/ui/api/keys/revoke", json={"keys": ["doomed"]}, headers={"X-CSRF-Token": admin_csrf})
        assert revoked.status_code == 200
        assert holder.get("/ui/api/keys").status_code == 401


def test_traces_list_the_gateway_spans_and_a_key_holder_sees_only_their_own(console_gateway: RunningProcess) -> None:
    admin, csrf = signed_in(console_gateway, MASTER_KEY)
    holder, _ = signed_in(console_gateway, new_key(console_gateway, key_alias="no-traces"))
    with closing(admin), closing(holder):
        assert _stream(admin, csrf, "alpha", "trace me") == "[a] trace me"
        deadline = time.monotonic() + 30  # the exporter writes in batches
        while True:
            listed = admin.get("/ui/api/traces").json()
            chat = [t for t in listed["traces"] if "chat" in t["root_name"]]
            if chat or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert listed["enabled"] and chat, listed
        assert not [t for t in listed["traces"] if "/ui/" in t["root_name"]], "console requests are left out"
        spans = admin.get(f"/ui/api/traces/{chat[0]['trace_id']}").json()["spans"]
        assert spans and all(s["trace_id"] == chat[0]["trace_id"] for s in spans)
        svg = admin.get(f"/ui/api/traces/{chat[0]['trace_id']}/waterfall.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml") and "<rect" in svg.text
        assert admin.get("/ui/api/traces/nothex!").status_code in (400, 404)
        assert admin.get("/ui/api/traces/" + "0" * 32).status_code == 404
        assert holder.get("/ui/api/traces").json()["traces"] == []  # this key made no request
        assert holder.get(f"/ui/api/traces/{chat[0]['trace_id']}").status_code == 403
        assert holder.get(f"/ui/api/traces/{chat[0]['trace_id']}/waterfall.svg").status_code == 403
