"""Bad values are refused at render time with the field named: the values schema (unknown top-level keys,
wrong types, `latest` tags, HPA together with KEDA) and the chart's own checks (ReadWriteOnce caches, Milvus
Lite, SQLite key stores and inline secrets that cannot work as asked)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferstack.deploy.render import RenderError
from tests.deploy.chart_rendering import chart_file, render_values

pytestmark = pytest.mark.deploy

MILVUS_SERVER = {"config": {"knowledge": {"milvus_uri": "http://milvus.data:19530"}}}
POSTGRES = {"secrets": {"databaseUrl": {"name": "db", "key": "url"}}}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"servers": {}}, "additional properties 'servers' not allowed"),
        ({"images": {"core": {"repository": "ghcr.io/x/core", "tag": "latest"}}}, "/images/core/tag"),
        ({"images": {"vllm": {"repository": "docker.io/vllm/vllm-openai", "tag": "latest"}}}, "/images/vllm/tag"),
        ({"serve": {"replicas": "two"}}, "/serve/replicas"),
        ({"serve": {"modelCache": {"mode": "nfs"}}}, "/serve/modelCache/mode"),
        ({"vllm": {"models": [{"name": "Big_Model", "model": "x"}]}}, "/vllm/models/0/name"),
        ({"vllm": {"models": [{"name": "m"}]}}, "/vllm/models/0"),
        ({"gateway": {"autoscaling": {"hpa": {"enabled": True}, "keda": {"enabled": True}}}}, "/gateway/autoscaling"),
        ({"ray": {"upgradeStrategy": "Blue"}}, "/ray/upgradeStrategy"),
        ({"secrets": {"gatewayMasterKey": {"name": "s", "value": "inline"}}}, "/secrets/gatewayMasterKey"),
        ({"knowledge": {"source": {"type": "s3"}}}, "/knowledge/source/type"),
    ],
)
def test_schema_refuses_bad_values_naming_the_field(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(RenderError) as refused:
        render_values(values)
    assert expected in refused.value.message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"serve": {"replicas": 2, "modelCache": {"mode": "shared", "accessMode": "ReadWriteOnce"}}},
            "serve.modelCache: mode shared with accessMode ReadWriteOnce cannot serve 2 replicas",
        ),
        (
            {
                "serve": {
                    "modelCache": {"mode": "shared", "accessMode": "ReadWriteOnce"},
                    "autoscaling": {"keda": {"enabled": True, "maxReplicas": 3}},
                }
            },
            "cannot serve 3 replicas",
        ),
        (
            {
                "vllm": {
                    "models": [
                        {
                            "name": "q",
                            "model": "Q/q",
                            "replicas": 2,
                            "modelCache": {"mode": "shared", "accessMode": "ReadWriteOnce"},
                        }
                    ]
                }
            },
            "vllm.models[0].modelCache: mode shared with accessMode ReadWriteOnce",
        ),
        ({"agent": {"replicas": 2}}, "agent: 2 replicas cannot share a Milvus Lite"),
        ({"agent": {"autoscaling": {"hpa": {"enabled": True, "maxReplicas": 4}}}}, "agent: 4 replicas cannot share"),
        ({"gateway": {"replicas": 3}}, "gateway: 3 replicas need a shared key store: set secrets.databaseUrl"),
        ({"dev": {"secrets": {"gatewayMasterKey": "sk-x"}}}, "dev.secrets is set but dev.inlineSecrets is false"),
        ({"knowledge": {"source": {"type": "configMap"}}}, "knowledge.source.name"),
        (
            {"config": {"serve": {"model": "bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M.gguf"}}},
            "config.serve.model is set: also set config.serve.served_model_name",
        ),
    ],
)
def test_chart_refuses_what_cannot_work_with_a_message(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(RenderError) as refused:
        render_values(values)
    assert expected in refused.value.message


def test_the_multi_replica_paths_render() -> None:
    """What the refusals point to works: a Milvus server or OpenSearch for agents, PostgreSQL for gateways,
    ReadWriteMany or per-replica claims for model caches."""
    render_values({**MILVUS_SERVER, "agent": {"replicas": 3}})
    render_values({"config": {"knowledge": {"store": "opensearch"}}, "agent": {"replicas": 2}})
    render_values({**POSTGRES, "gateway": {"replicas": 3}})
    render_values({"config": {"gateway": {"database_url": "postgresql://db/inferstack"}}, "gateway": {"replicas": 2}})
    render_values({"serve": {"replicas": 3, "modelCache": {"mode": "shared"}}})
    render_values({"serve": {"replicas": 3, "modelCache": {"mode": "perReplica"}}})


def test_schema_top_level_is_closed_and_every_values_key_is_declared() -> None:
    schema = json.loads(chart_file("values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    import yaml

    defaults = yaml.safe_load(chart_file("values.yaml").read_text())
    assert set(defaults) == set(schema["properties"]), "values.yaml and the schema declare the same keys"
