"""The current kubeconfig context as connection settings: server, TLS trust, and credentials from a token,
client certificates or an exec plugin (e.g. `aws eks get-token`), as kubectl resolves them."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferstack.core.errors import InferstackError

EXEC_TIMEOUT_S = 60.0


class KubeconfigError(InferstackError):
    """The kubeconfig is missing, incomplete, or its credential plugin failed."""


@dataclass(frozen=True)
class Connection:
    """What a client needs to reach the API server of one context."""

    context: str
    server: str
    verify: ssl.SSLContext | bool
    headers: dict[str, str] = field(default_factory=dict)


def _named(entries: list[dict[str, Any]] | None, name: str, kind: str, source: Path) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            body = entry.get(kind)
            return body if isinstance(body, dict) else {}
    raise KubeconfigError(f"{source}: no {kind} named {name!r}")


def _read(data_key: str, file_key: str, section: dict[str, Any], base: Path) -> bytes | None:
    """Inline base64 `*-data` or a file path (relative to the kubeconfig), like kubectl."""
    if section.get(data_key):
        return base64.b64decode(section[data_key])
    if section.get(file_key):
        return (base / str(section[file_key])).expanduser().read_bytes()
    return None


def _run_exec_plugin(spec: dict[str, Any], source: Path) -> dict[str, Any]:
    """Run a client-go credential plugin and return its ExecCredential status."""
    command = spec.get("command")
    if not command:
        raise KubeconfigError(f"{source}: the user's exec section has no command")
    env = {**os.environ, **{str(e["name"]): str(e["value"]) for e in spec.get("env") or []}}
    request = {"apiVersion": spec.get("apiVersion", "client.authentication.k8s.io/v1beta1"), "kind": "ExecCredential"}
    env["KUBERNETES_EXEC_INFO"] = json.dumps({**request, "spec": {"interactive": False}})
    try:
        done = subprocess.run(
            [str(command), *[str(a) for a in spec.get("args") or []]],
            env=env,
            capture_output=True,
            text=True,
            timeout=EXEC_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as exc:
        hint = f" ({spec['installHint'].strip()})" if spec.get("installHint") else ""
        raise KubeconfigError(f"credential plugin {command!r} is not installed{hint}") from exc
    except subprocess.TimeoutExpired as exc:
        raise KubeconfigError(f"credential plugin {command!r} did not answer within {EXEC_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        # The plugin's own message (e.g. expired SSO session) is the useful part; it carries no token.
        raise KubeconfigError(f"credential plugin {command!r} failed: {done.stderr.strip()[-500:]}")
    try:
        status = json.loads(done.stdout)["status"]
    except (ValueError, KeyError, TypeError) as exc:
        raise KubeconfigError(f"credential plugin {command!r} printed no ExecCredential status") from exc
    if not isinstance(status, dict):
        raise KubeconfigError(f"credential plugin {command!r} printed no ExecCredential status")
    return status


def _tls_context(cluster: dict[str, Any], cert: bytes | None, key: bytes | None, base: Path) -> ssl.SSLContext | bool:
    if cluster.get("insecure-skip-tls-verify"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        ca = _read("certificate-authority-data", "certificate-authority", cluster, base)
        context = ssl.create_default_context(cadata=ca.decode() if ca else None)
        if ca is None:
            context.load_default_certs()
    if cert and key:
        # ssl only loads client certificates from files: write them to a private temporary folder.
        with tempfile.TemporaryDirectory(prefix="inferstack-kube-") as folder:
            cert_path, key_path = Path(folder, "client.crt"), Path(folder, "client.key")
            cert_path.write_bytes(cert)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key)
            context.load_cert_chain(cert_path, key_path)
    return context


def load_connection(path: Path, context_name: str | None = None) -> Connection:
    """Resolve `context_name` (default: current-context) of the kubeconfig at `path`."""
    if not path.is_file():
        raise KubeconfigError(
            f"no kubeconfig at {path}: on EKS run `aws eks update-kubeconfig --region <region> --name <cluster>`"
        )
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{path} is not valid YAML: {exc}") from exc
    name = context_name or config.get("current-context")
    if not name:
        raise KubeconfigError(f"{path} has no current-context; pass --context or run `kubectl config use-context`")
    context = _named(config.get("contexts"), name, "context", path)
    cluster = _named(config.get("clusters"), str(context.get("cluster")), "cluster", path)
    user = _named(config.get("users"), str(context.get("user")), "user", path) if context.get("user") else {}
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"{path}: cluster {context.get('cluster')!r} has no server URL")
    base = path.parent
    headers: dict[str, str] = {}
    cert = _read("client-certificate-data", "client-certificate", user, base)
    key = _read("client-key-data", "client-key", user, base)
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).expanduser().read_text().strip()
    if user.get("exec"):
        status = _run_exec_plugin(user["exec"], path)
        token = status.get("token") or token
        if status.get("clientCertificateData") and status.get("clientKeyData"):
            cert, key = status["clientCertificateData"].encode(), status["clientKeyData"].encode()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Connection(
        context=name, server=server.rstrip("/"), verify=_tls_context(cluster, cert, key, base), headers=headers
    )
