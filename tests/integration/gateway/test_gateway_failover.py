"""Retries, fallbacks, cool-down and health checks with real upstream processes that fail or die."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.gateway import MASTER_KEY, control, deployment, fake_upstream, gateway_process, upstream_stats

HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}


def _chat(base_url: str, model: str, text: str = "hi", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return httpx.post(base_url + "/v1/chat/completions", json=body, headers=HEADERS, timeout=30)


def test_upstream_killed_mid_load_loses_no_request(tmp_path: Path) -> None:
    with fake_upstream(tmp_path, "a") as a, fake_upstream(tmp_path, "b") as b:
        config = {
            "model_list": [deployment("ha", a), deployment("ha", b)],
            "router": {
                "num_retries": 2,
                "retry_backoff_s": 0.01,
                "cooldown_s": 60,
                "allowed_fails": 1,
                "health_check_interval_s": 0,
            },
        }
        with gateway_process(tmp_path, config) as gateway:
            stop_at = threading.Event()

            def one(i: int) -> int:
                if i == 60:
                    a.process.send_signal(signal.SIGKILL)
                    stop_at.set()
                return _chat(gateway.base_url, "ha", f"n{i}").status_code

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(one, range(300)))
            assert stop_at.is_set()
            assert codes == [200] * 300, f"client-visible errors: {[c for c in codes if c != 200]}"
            health = httpx.get(gateway.base_url + "/health/readiness").json()["models"]["ha"]
            dead = next(d for d in health if d["api_base"].startswith(a.base_url))
            reason = dead["last_error"] or ""
            assert dead["cooling_down_s"] > 0
            assert any(r in reason for r in ("cannot connect", "connection error", "closed the connection")), reason
            assert upstream_stats(b)["requests"] > 0


def test_fallback_to_another_model_then_clear_error_when_all_fail(tmp_path: Path) -> None:
    with fake_upstream(tmp_path, "primary") as primary, fake_upstream(tmp_path, "backup") as backup:
        config = {
            "model_list": [deployment("main", primary, api_key="sk-upstream-secret"), deployment("spare", backup)],
            "router": {
                "num_retries": 1,
                "retry_backoff_s": 0.01,
                "fallbacks": {"main": ["spare"]},
                "health_check_interval_s": 0,
                "allowed_fails": 100,
            },
        }
        with gateway_process(tmp_path, config) as gateway:
            control(primary, fail=500)
            answered = _chat(gateway.base_url, "main", "route me")
            assert answered.status_code == 200
            assert answered.json()["choices"][0]["message"]["content"] == "[backup] route me"
            assert upstream_stats(primary)["requests"] == 2, "one try plus one retry before falling back"
            control(backup, fail=429)
            failed = _chat(gateway.base_url, "main")
            assert failed.status_code == 502
            error = failed.json()["error"]
            assert "HTTP 500" in error["message"] and "HTTP 429" in error["message"]
            assert "sk-upstream-secret" not in failed.text and "sk-upstream-secret" not in gateway.log()
            # A 4xx from the upstream is the client's problem: passed through, never retried.
            control(primary, fail=400)
            control(backup, fail=None)
            before = upstream_stats(primary)["requests"]
            rejected = _chat(gateway.base_url, "main")
            assert rejected.status_code == 400 and upstream_stats(primary)["requests"] == before + 1


def test_active_health_checks_take_a_deployment_out_and_back(tmp_path: Path) -> None:
    with fake_upstream(tmp_path, "a") as a:
        config = {
            "model_list": [deployment("solo", a)],
            "router": {"num_retries": 0, "health_check_interval_s": 0.3, "health_check_timeout_s": 1},
        }
        with gateway_process(tmp_path, config) as gateway:
            control(a, fail=503)
            deadline = time.monotonic() + 10
            while httpx.get(gateway.base_url + "/health/readiness").status_code != 503:
                assert time.monotonic() < deadline, "health check never marked the deployment down"
                time.sleep(0.1)
            refused = _chat(gateway.base_url, "solo")
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "no_healthy_deployment"
            assert "Retry-After" in refused.headers
            control(a, fail=None)
            while httpx.get(gateway.base_url + "/health/readiness").status_code != 200:
                assert time.monotonic() < deadline + 10, "deployment never came back"
                time.sleep(0.1)
            assert _chat(gateway.base_url, "solo").status_code == 200


def test_per_request_and_per_deployment_timeouts(tmp_path: Path) -> None:
    with fake_upstream(tmp_path, "slow") as slow:
        config = {
            "model_list": [deployment("patient", slow), deployment("hasty", slow, timeout_s=0.3)],
            "router": {"num_retries": 0, "health_check_interval_s": 0, "allowed_fails": 100},
        }
        with gateway_process(tmp_path, config) as gateway:
            control(slow, delay_ms=1500)
            timed_out = _chat(gateway.base_url, "patient", timeout=0.3)
            assert timed_out.status_code == 502 and "no reply within 0.3 s" in timed_out.json()["error"]["message"]
            assert "timeout" not in upstream_stats(slow)["last_body"], "LiteLLM's timeout field is not sent upstream"
            assert _chat(gateway.base_url, "hasty").status_code == 502
            assert _chat(gateway.base_url, "patient").status_code == 200
            assert _chat(gateway.base_url, "patient", timeout="soon").status_code == 400


def test_client_disconnect_mid_stream_releases_the_upstream(tmp_path: Path) -> None:
    import socket

    with fake_upstream(tmp_path, "slowstream") as upstream:
        config = {"model_list": [deployment("s", upstream)], "router": {"health_check_interval_s": 0}}
        with gateway_process(tmp_path, config) as gateway:
            control(upstream, token_delay_ms=300)
            body = b'{"model": "s", "stream": true, "messages": [{"role": "user", "content": "' + b"w " * 40 + b'"}]}'
            port = int(gateway.base_url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"Authorization: Bearer {MASTER_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                received = b""
                while b"data: " not in received:
                    chunk = sock.recv(65536)
                    assert chunk, "the gateway closed the stream before any event"
                    received += chunk
            deadline = time.monotonic() + 10
            while True:
                metrics = httpx.get(gateway.base_url + "/metrics").text
                if "inferstack_gateway_in_flight 0.0" in metrics:
                    break
                assert time.monotonic() < deadline, "the stream was not cancelled after the client left"
                time.sleep(0.1)
            assert 'status="499"' in metrics
            health = httpx.get(gateway.base_url + "/health/readiness").json()["models"]["s"][0]
            assert health["in_flight"] == 0
