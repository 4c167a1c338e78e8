"""The kubeconfig resolves like kubectl's: CA data, bearer tokens, token files and exec credential plugins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from inferstack.k8s.api import KubeApi, KubeApiError
from inferstack.k8s.kubeconfig import KubeconfigError, load_connection
from tests.support.fake_kube_api import FakeKubeApi

pytestmark = pytest.mark.deploy


def _version(path: Path, context: str | None = None) -> dict[str, object] | None:
    with KubeApi(load_connection(path, context)) as api:
        return api.get("/version")


def test_token_and_ca_data_reach_the_api_over_verified_tls(kubeconfig: Path) -> None:
    assert _version(kubeconfig) == {"major": "1", "minor": "34+", "gitVersion": "v1.34.0-eks-fake"}


def test_a_wrong_token_is_a_clear_error_without_the_token(fake_kube: FakeKubeApi, tmp_path: Path) -> None:
    path = fake_kube.write_kubeconfig(tmp_path / "kc", user={"token": "wrong-secret-value"})
    with pytest.raises(KubeApiError) as caught:
        _version(path)
    assert "refused the credentials" in caught.value.message and "HTTP 401" in caught.value.message
    assert "wrong-secret-value" not in caught.value.message


def test_a_server_with_another_certificate_is_refused(fake_kube: FakeKubeApi, tmp_path: Path) -> None:
    with FakeKubeApi() as other:
        path = fake_kube.write_kubeconfig(tmp_path / "kc")
        path.write_text(path.read_text().replace(fake_kube.url, other.url))
        with pytest.raises(KubeApiError, match="cannot reach the API server"):
            _version(path)


def test_token_file(fake_kube: FakeKubeApi, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(fake_kube.state.token + "\n")
    path = fake_kube.write_kubeconfig(tmp_path / "kc", user={"tokenFile": "token"})
    assert _version(path) is not None


def _exec_user(script: str) -> dict[str, object]:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": ["-c", script],
            "env": [{"name": "FAKE_TOKEN", "value": "fake-token"}],
        }
    }


def test_exec_plugin_token_like_aws_eks_get_token(fake_kube: FakeKubeApi, tmp_path: Path) -> None:
    script = (
        "import json, os; info = json.loads(os.environ['KUBERNETES_EXEC_INFO']);"
        "print(json.dumps({'kind': 'ExecCredential', 'apiVersion': info['apiVersion'],"
        " 'status': {'token': os.environ['FAKE_TOKEN']}}))"
    )
    path = fake_kube.write_kubeconfig(tmp_path / "kc", user=_exec_user(script))
    assert _version(path) is not None


def test_exec_plugin_failure_passes_its_message_on(fake_kube: FakeKubeApi, tmp_path: Path) -> None:
    script = "import sys; sys.stderr.write('Error when retrieving token from sso: Token has expired'); sys.exit(255)"
    path = fake_kube.write_kubeconfig(tmp_path / "kc", user=_exec_user(script))
    with pytest.raises(KubeconfigError, match="Token has expired"):
        load_connection(path)


def test_exec_plugin_that_is_not_installed(fake_kube: FakeKubeApi, tmp_path: Path) -> None:
    user = {"exec": {"command": "no-such-aws-cli", "installHint": "install the AWS CLI v2"}}
    path = fake_kube.write_kubeconfig(tmp_path / "kc", user=user)
    with pytest.raises(KubeconfigError, match=r"not installed \(install the AWS CLI v2\)"):
        load_connection(path)


def test_missing_file_names_the_eks_command(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="aws eks update-kubeconfig"):
        load_connection(tmp_path / "absent")


def test_unknown_context_and_missing_current_context(kubeconfig: Path, tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="no context named 'nope'"):
        load_connection(kubeconfig, "nope")
    bare = tmp_path / "bare"
    bare.write_text(json.dumps({"apiVersion": "v1", "clusters": [], "contexts": [], "users": []}))
    with pytest.raises(KubeconfigError, match="no current-context"):
        load_connection(bare)
