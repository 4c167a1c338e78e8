"""FakeKubeApi: a real HTTPS server on loopback that answers the read-only Kubernetes API paths preflight uses
(/version, API discovery, nodes, StorageClasses, Karpenter NodePools) with the API server's JSON shapes,
including 401/404 Status objects. A fake, for unit tests: there is no Kubernetes API server on this machine."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class ClusterState:
    """What the fake cluster holds; tests edit it between requests."""

    version: tuple[str, str] = ("1", "34")
    # "group/version" -> served resource plurals
    apis: dict[str, list[str]] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    storage_classes: list[dict[str, Any]] = field(default_factory=list)
    node_pools: list[dict[str, Any]] = field(default_factory=list)
    token: str = "fake-token"
    requests: list[str] = field(default_factory=list)


def node(
    name: str, *, labels: dict[str, str] | None = None, allocatable: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "status": {"allocatable": {"cpu": "4", "memory": "16Gi", **(allocatable or {})}},
    }


def storage_class(name: str, *, default: bool, binding: str = "WaitForFirstConsumer") -> dict[str, Any]:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": annotations},
        "provisioner": "ebs.csi.aws.com",
        "volumeBindingMode": binding,
    }


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _self_signed() -> tuple[bytes, bytes]:
    """A throwaway certificate for 127.0.0.1 and its key, PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        state.requests.append(path)
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            self._send(401, _status(401, "Unauthorized", "Unauthorized"))
            return
        body = self._route(path, state)
        if body is None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
        else:
            self._send(200, body)

    def do_POST(self) -> None:
        self.server.state.requests.append(f"POST {self.path}")
        self._send(405, _status(405, "MethodNotAllowed", "the fake is read-only"))

    do_PUT = do_PATCH = do_DELETE = do_POST  # noqa: N815 - http.server dispatches on these names

    @staticmethod
    def _route(path: str, state: ClusterState) -> dict[str, Any] | None:
        if path == "/version":
            major, minor = state.version
            return {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor.rstrip('+')}.0-eks-fake"}
        if path == "/api/v1/nodes":
            return {"kind": "NodeList", "apiVersion": "v1", "items": state.nodes}
        if path == "/apis/storage.k8s.io/v1/storageclasses":
            return {"kind": "StorageClassList", "apiVersion": "storage.k8s.io/v1", "items": state.storage_classes}
        if path == "/apis/karpenter.sh/v1/nodepools":
            if "karpenter.sh/v1" not in state.apis:
                return None
            return {"kind": "NodePoolList", "apiVersion": "karpenter.sh/v1", "items": state.node_pools}
        if path.startswith("/apis/") and path.count("/") == 3:
            group_version = path.removeprefix("/apis/")
            if group_version not in state.apis:
                return None
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": [
                    {"name": plural, "namespaced": True, "verbs": ["get", "list"]}
                    for plural in state.apis[group_version]
                ],
            }
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ClusterState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeKubeApi:
    """Serve a ClusterState over HTTPS on a free loopback port; write a kubeconfig that points at it."""

    def __init__(self, state: ClusterState | None = None) -> None:
        self.state = state or ClusterState()
        self.cert_pem, key_pem = _self_signed()
        self._server = _Server(self.state)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:
            cert_path, key_path = Path(folder, "tls.crt"), Path(folder, "tls.key")
            cert_path.write_bytes(self.cert_pem)
            key_path.write_bytes(key_pem)
            context.load_cert_chain(cert_path, key_path)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeKubeApi:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def write_kubeconfig(self, path: Path, *, user: dict[str, Any] | None = None, context: str = "fake-eks") -> Path:
        """A kubeconfig like `aws eks update-kubeconfig` writes; `user` defaults to the fake's bearer token."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [
                {
                    "name": "fake-cluster",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.cert_pem).decode(),
                    },
                }
            ],
            "contexts": [{"name": context, "context": {"cluster": "fake-cluster", "user": "fake-user"}}],
            "users": [{"name": "fake-user", "user": user if user is not None else {"token": self.state.token}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path
