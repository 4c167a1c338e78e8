"""Opt-in: the chart on a real Kubernetes cluster (kind, k3d, EKS, …), no GPU needed.

Runs only when KUBECONFIG is set and kubectl is on PATH. It renders the chart with the fake engine
(`serve.engine: fake`), applies it to a fresh namespace, waits for every Deployment to be available (startup,
readiness and the NetworkPolicies in force where the CNI enforces them), then answers a chat completion through
the gateway Service with the official OpenAI SDK over `kubectl port-forward`, and deletes the namespace.
The images must be pullable by the cluster: INFERSTACK_TEST_IMAGE_PREFIX (default ghcr.io/inferstack) and
INFERSTACK_TEST_IMAGE_TAG (default the chart's appVersion) choose them, e.g. `localhost` after `kind load`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from inferstack.deploy.render import render

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(
        not os.environ.get("KUBECONFIG") or shutil.which("kubectl") is None,
        reason="needs a Kubernetes cluster: set KUBECONFIG (and have kubectl on PATH) to run tests/cluster",
    ),
]

MASTER_KEY = "sk-cluster-test-" + uuid.uuid4().hex[:12]


def kubectl(*args: str, timeout: float = 600, stdin: str | None = None) -> str:
    done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def values() -> dict[str, object]:
    prefix = os.environ.get("INFERSTACK_TEST_IMAGE_PREFIX", "ghcr.io/inferstack")
    tag = os.environ.get("INFERSTACK_TEST_IMAGE_TAG", "")
    image = {"tag": tag, "pullPolicy": "IfNotPresent"}
    return {
        "config": {"serve": {"engine": "fake", "served_model_name": "fake-chat", "embeddings": False}},
        "images": {
            "core": {"repository": f"{prefix}/inferstack-core", **image},
            "serveCpu": {"repository": f"{prefix}/inferstack-serve-cpu", **image},
        },
        "dev": {"inlineSecrets": True, "secrets": {"gatewayMasterKey": MASTER_KEY}},
        "agent": {"enabled": False},
        "mcp": {"webSearch": {"enabled": False}, "filesystem": {"enabled": False}},
        "serve": {"resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}},
        "gateway": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}},
        # The test reaches the gateway through the API server's port-forward.
        "networkPolicy": {"enabled": False},
    }


@pytest.fixture(scope="module")
def namespace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"inferstack-test-{uuid.uuid4().hex[:6]}"
    manifests = tmp_path_factory.mktemp("manifests")
    render(values(), release="it", namespace=name).write(manifests)
    kubectl("create", "namespace", name)
    try:
        kubectl("apply", "-n", name, "-R", "-f", str(manifests))
        for deployment in ("it-inferstack-serve", "it-inferstack-gateway"):
            kubectl("-n", name, "rollout", "status", f"deployment/{deployment}", "--timeout=600s", timeout=660)
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_chat_completion_through_the_gateway_service(namespace: str) -> None:
    from openai import OpenAI

    port = free_port()
    forward = subprocess.Popen(
        ["kubectl", "-n", namespace, "port-forward", "svc/it-inferstack-gateway", f"{port}:4000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=10)
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = client.chat.completions.create(
                    model="fake-chat", messages=[{"role": "user", "content": "hello from kubernetes"}], max_tokens=8
                )
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        assert reply.choices[0].message.content
        assert reply.model == "fake-chat"
        assert reply.usage is not None and reply.usage.completion_tokens > 0
    finally:
        forward.terminate()
        forward.wait(timeout=10)
