"""The chart's document-processing component: off by default; enabled it runs `inferstack idp serve` with its
config wired to the in-cluster gateway, its keys from Secrets, its SQLite file on a claim and one replica (or
PostgreSQL and many), and NetworkPolicy flows clients → idp → gateway. Objects are valid Kubernetes."""

from __future__ import annotations

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from inferstack.deploy.render import RenderError
from tests.deploy.chart_rendering import KUBERNETES_VERSIONS, Obj, named, objects, of_kind, pod_spec, stack_config

pytestmark = pytest.mark.deploy

ENABLED: Obj = {
    "idp": {"enabled": True, "image": {"repository": "registry.example/inferstack-core-idp"}},
    "secrets": {
        "idpApiKey": {"name": "inferstack-secrets", "key": "idp-api-key"},
        "idpServerApiKey": {"name": "inferstack-secrets", "key": "idp-server-api-key"},
    },
    "networkPolicy": {"clients": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]},
}


def components(rule: Obj, key: str) -> set[str]:
    return {
        value
        for peer in rule.get(key, [])
        for expr in peer.get("podSelector", {}).get("matchExpressions", [])
        if expr["key"] == "app.kubernetes.io/component"
        for value in expr["values"]
    }


def test_idp_is_off_by_default() -> None:
    docs = objects()
    assert not [d for d in docs if "idp" in d["metadata"]["name"]]
    assert "idp" not in stack_config(docs)


def test_idp_enabled_renders_valid_wired_objects() -> None:
    docs = objects(ENABLED)
    deployment = named(docs, "Deployment", "idp")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    (container,) = pod_spec(deployment)["containers"]
    assert container["image"].startswith("registry.example/inferstack-core-idp:")
    assert container["args"][:2] == ["idp", "serve"] and container["ports"][0]["containerPort"] == 8082
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
    assert env["INFERSTACK_IDP_API_KEY"] == {"name": "inferstack-secrets", "key": "idp-api-key"}
    assert env["INFERSTACK_IDP_SERVER_API_KEY"] == {"name": "inferstack-secrets", "key": "idp-server-api-key"}
    config = stack_config(docs)["idp"]
    assert config["model_base_url"] == "http://demo-inferstack-gateway:4000/v1"
    assert config["database"] == "/var/lib/inferstack/idp/idp.sqlite3"
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    claim = named(docs, "PersistentVolumeClaim", "idp")["metadata"]["name"]
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": claim}
    mine = [d for d in docs if d["metadata"]["labels"].get("app.kubernetes.io/component") == "idp"]
    assert {d["kind"] for d in mine} >= {"Deployment", "Service", "PersistentVolumeClaim", "NetworkPolicy"}
    for doc in mine:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_idp_flows_clients_in_gateway_out() -> None:
    policies = {
        p["metadata"]["labels"]["app.kubernetes.io/component"]: p["spec"]
        for p in of_kind(objects(ENABLED), "NetworkPolicy")
    }
    idp = policies["idp"]
    assert idp["ingress"][0]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]
    assert {p["port"] for p in idp["ingress"][0]["ports"]} == {8082}
    (out,) = idp["egress"]
    assert components(out, "to") == {"gateway"} and {p["port"] for p in out["ports"]} == {4000}
    assert any("idp" in components(rule, "from") for rule in policies["gateway"]["ingress"])


def test_more_than_one_replica_is_refused() -> None:
    with pytest.raises(RenderError, match="replicas must be 1"):
        objects({"idp": {"enabled": True, "replicas": 2}})


def test_postgresql_allows_replicas_and_opens_only_its_port() -> None:
    values: Obj = {
        **ENABLED,
        "idp": {"enabled": True, "replicas": 3, "persistence": {"enabled": False}},
        "secrets": {**ENABLED["secrets"], "idpDatabaseUrl": {"name": "idp-db", "key": "url"}},
    }
    docs = objects(values)
    deployment = named(docs, "Deployment", "idp")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"].get("strategy", {}).get("type", "RollingUpdate") == "RollingUpdate"
    (container,) = pod_spec(deployment)["containers"]
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
    assert env["INFERSTACK_IDP_DATABASE_URL"] == {"name": "idp-db", "key": "url"}
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim" and "idp" in d["metadata"]["name"]]
    (policy,) = [
        p["spec"]
        for p in of_kind(docs, "NetworkPolicy")
        if p["metadata"]["labels"]["app.kubernetes.io/component"] == "idp"
    ]
    assert [{p["port"] for p in rule["ports"]} for rule in policy["egress"]] == [{4000}, {5432}]
    assert policy["egress"][1]["to"] == [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    for doc in docs:
        if doc["metadata"]["labels"].get("app.kubernetes.io/component") == "idp":
            kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)
