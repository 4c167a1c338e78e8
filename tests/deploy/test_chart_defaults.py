"""The chart's production defaults, asserted on rendered objects: security contexts, probes, grace periods,
PDBs, labels and image tags, autoscaling signals, NetworkPolicy flows, the migration hook and the ingest Job."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.deploy.render import render
from tests.deploy.chart_rendering import (
    EXAMPLE_IDS,
    NAMESPACE,
    RELEASE,
    Obj,
    chart_file,
    named,
    objects,
    of_kind,
    pod_spec,
    pod_specs,
    rendered_example,
    stack_config,
    with_values,
)

pytestmark = pytest.mark.deploy

MODEL_SERVERS = ("serve", "vllm-qwen3-14b", "vllm-qwen2-5-vl-7b")


def containers(spec: Obj) -> list[Obj]:
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_every_pod_runs_non_root_read_only_without_privileges(example: str) -> None:
    for where, spec in pod_specs(rendered_example(example).documents()):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        mounts = set()
        for c in containers(spec):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"], where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            mounts |= {m["mountPath"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, f"{where}: a read-only root needs a writable /tmp"
        # Only the Ray head talks to the API server (its in-tree autoscaler scales the worker pods).
        ray_head = where.startswith("RayService/") and where.endswith("/head")
        assert spec["automountServiceAccountToken"] is ray_head, where


@pytest.mark.parametrize("example", EXAMPLE_IDS)
def test_labels_and_image_tags(example: str) -> None:
    docs = rendered_example(example).documents()
    for doc in docs:
        labels = doc["metadata"]["labels"]
        for key in ("name", "instance", "component", "version", "managed-by", "part-of"):
            assert f"app.kubernetes.io/{key}" in labels, f"{doc['kind']}/{doc['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/part-of"] == "inferstack"
        selector = doc.get("spec", {}).get("selector", {})
        if doc["kind"] in ("Deployment", "StatefulSet"):
            assert set(selector["matchLabels"]) == {
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/component",
            }, "selectors are immutable: no version in them"
    for where, spec in pod_specs(docs):
        for c in containers(spec):
            image = c["image"]
            assert not image.endswith(":latest") and (":" in image.rsplit("/", 1)[-1] or "@sha256:" in image), where
            if "inferstack-" in image and "@" not in image:
                assert image.endswith(":0.1.0"), f"{where}: inferstack images default to the chart's appVersion"


def test_a_digest_wins_over_the_tag() -> None:
    digest = "sha256:" + "a" * 64
    docs = objects({"images": {"core": {"repository": "r.example/core", "digest": digest}}})
    gateway = pod_spec(named(docs, "Deployment", "gateway"))
    assert gateway["containers"][0]["image"] == f"r.example/core@{digest}"


def test_model_servers_gate_liveness_and_readiness_behind_a_startup_probe() -> None:
    docs = rendered_example("gpu-vllm").documents()
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]
    servers = [w for w in workloads if w["metadata"]["labels"]["app.kubernetes.io/component"] in MODEL_SERVERS]
    assert len(servers) == 3
    for workload in docs:
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for c in pod_spec(workload)["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in c, f"{workload['metadata']['name']}: {probe}"
                assert "initialDelaySeconds" not in c[probe], "load time belongs to the startupProbe"
    big = pod_spec(named(docs, "StatefulSet", "vllm-qwen3-14b"))["containers"][0]
    budget = big["startupProbe"]["periodSeconds"] * big["startupProbe"]["failureThreshold"]
    assert budget == 1200, "the example's 20-minute load budget for a 14B model"
    assert big["startupProbe"]["httpGet"]["path"] == "/health"
    serve = pod_spec(named(docs, "Deployment", "serve"))["containers"][0]
    assert serve["startupProbe"]["httpGet"]["path"] == "/health", "serve answers 503 on /health while loading"
    gateway = pod_spec(named(docs, "Deployment", "gateway"))["containers"][0]
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    agent = pod_spec(named(docs, "Deployment", "agent"))["containers"][0]
    assert "tcpSocket" in agent["livenessProbe"], "a gateway outage must not restart the agent"


def config_checksums(docs: list[Obj]) -> dict[str, str | None]:
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["metadata"]
        .get("annotations", {})
        .get("checksum/config")
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }


def test_a_config_change_rolls_only_the_pods_that_read_that_section() -> None:
    before = config_checksums(rendered_example("gpu-vllm").documents())
    after = config_checksums(with_values("gpu-vllm", {"config": {"gateway": {"cache": {"enabled": True}}}}))
    assert {c for c in before if before[c] != after[c]} == {"gateway"}
    assert before["vllm-qwen3-14b"] is None, "vLLM reads its flags, not inferstack.yaml"
    vllm = pod_spec(named(rendered_example("gpu-vllm").documents(), "StatefulSet", "vllm-qwen3-14b"))
    assert "config" not in {v["name"] for v in vllm["volumes"]}
    agent_change = config_checksums(with_values("gpu-vllm", {"config": {"knowledge": {"chunk_tokens": 300}}}))
    assert {c for c in before if before[c] != agent_change[c]} == {"agent"}


def test_grace_periods_cover_each_service_drain() -> None:
    docs = rendered_example("gpu-vllm").documents()
    # uvicorn drains for 30 s (http/server.py), MCP servers for 10 s (mcp_servers/assembly.py)
    for component in ("gateway", "agent", "serve"):
        assert pod_spec(named(docs, "Deployment", component))["terminationGracePeriodSeconds"] >= 30 + 5
    assert pod_spec(named(docs, "Deployment", "mcp-filesystem"))["terminationGracePeriodSeconds"] >= 10 + 5


def test_vllm_pod_tensor_parallel_gpus_shm_and_flags() -> None:
    docs = rendered_example("eks-full").documents()
    vllm = named(docs, "StatefulSet", "vllm-qwen3-14b")
    spec = pod_spec(vllm)
    (c,) = spec["containers"]
    assert c["command"] == ["vllm", "serve"]
    args = c["args"]
    assert args[0] == "Qwen/Qwen3-14B"
    assert args[args.index("--tensor-parallel-size") + 1] == "4"
    assert args[args.index("--dtype") + 1] == "bfloat16"
    assert args[args.index("--max-model-len") + 1] == "32768"
    assert args[args.index("--tool-call-parser") + 1] == "hermes" and "--enable-auto-tool-choice" in args
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "4"
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory" and shm["emptyDir"]["sizeLimit"] == "32Gi"
    assert {"mountPath": "/dev/shm", "name": "shm"} in c["volumeMounts"]
    assert spec["nodeSelector"] == {"inferstack.io/pool": "gpu"}
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert vllm["spec"]["template"]["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    assert vllm["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "gp3"
    assert {"name": "HF_HOME", "value": "/models/huggingface"} in c["env"]
    hf = next(e for e in c["env"] if e["name"] == "HF_TOKEN")
    assert hf["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "token"}


def test_eks_example_places_cpu_services_on_graviton_and_embeddings_on_x86() -> None:
    docs = rendered_example("eks-full").documents()
    assert pod_spec(named(docs, "Deployment", "gateway"))["nodeSelector"] == {"inferstack.io/pool": "graviton"}
    serve = pod_spec(named(docs, "Deployment", "serve"))
    assert serve["nodeSelector"] == {"inferstack.io/pool": "x86"}


@pytest.mark.parametrize(
    ("mode", "kind", "volume"),
    [
        ("image", "Deployment", None),
        ("ephemeral", "Deployment", "emptyDir"),
        ("shared", "Deployment", "persistentVolumeClaim"),
        ("perReplica", "StatefulSet", None),
    ],
)
def test_model_cache_modes(mode: str, kind: str, volume: str | None) -> None:
    docs = objects({"serve": {"replicas": 2, "modelCache": {"mode": mode}}})
    workload = named(docs, kind, "serve")
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    if volume is not None:
        assert volume in volumes["models"]
    if mode == "shared":
        (pvc,) = of_kind(docs, "PersistentVolumeClaim")
        assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    if mode == "perReplica":
        assert workload["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    env = pod_spec(workload)["containers"][0]["env"]
    if mode == "image":
        assert {"name": "HF_HUB_OFFLINE", "value": "1"} in env
    else:
        assert {"name": "HF_HOME", "value": "/models/huggingface"} in env


def test_a_single_replica_on_a_read_write_once_claim_recreates_instead_of_rolling() -> None:
    docs = objects({"serve": {"modelCache": {"mode": "shared", "accessMode": "ReadWriteOnce"}}})
    assert named(docs, "Deployment", "serve")["spec"]["strategy"] == {"type": "Recreate"}


def test_pdbs_only_where_more_than_one_replica_and_never_blocking_a_drain() -> None:
    docs = rendered_example("eks-full").documents()
    pdbs = {p["metadata"]["labels"]["app.kubernetes.io/component"]: p for p in of_kind(docs, "PodDisruptionBudget")}
    assert set(pdbs) == {"serve", "gateway", "agent", "vllm-qwen3-14b", "weather-chat"}
    for pdb in pdbs.values():
        assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}
    assert of_kind(rendered_example("cpu-laptop").documents(), "PodDisruptionBudget") == []


def test_keda_scales_model_servers_on_vllm_metrics_and_hpa_the_gateway_on_in_flight() -> None:
    docs = rendered_example("eks-full").documents()
    scaled = {s["metadata"]["labels"]["app.kubernetes.io/component"]: s for s in of_kind(docs, "ScaledObject")}
    assert set(scaled) == {"serve", "vllm-qwen3-14b"}
    queries = [t["metadata"]["query"] for t in scaled["vllm-qwen3-14b"]["spec"]["triggers"]]
    assert 'sum(vllm:num_requests_waiting{namespace="ai",service="demo-inferstack-vllm-qwen3-14b"})' in queries
    assert 'avg(vllm:kv_cache_usage_perc{namespace="ai",service="demo-inferstack-vllm-qwen3-14b"})' in queries
    assert scaled["vllm-qwen3-14b"]["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"
    hpas = {h["metadata"]["labels"]["app.kubernetes.io/component"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")}
    assert set(hpas) == {"gateway", "agent"}
    pods = [m["pods"]["metric"]["name"] for m in hpas["gateway"]["spec"]["metrics"] if m["type"] == "Pods"]
    assert pods == ["inferstack_gateway_requests_in_flight"]
    for autoscaled in ("gateway", "agent"):
        assert "replicas" not in named(docs, "Deployment", autoscaled)["spec"], "the autoscaler owns replicas"
    running = with_values("gpu-vllm", {"vllm": {"defaults": {"autoscaling": {"keda": {"runningThreshold": "6"}}}}})
    qwen = next(s for s in of_kind(running, "ScaledObject") if "qwen3" in s["metadata"]["name"])
    assert any("vllm:num_requests_running" in t["metadata"]["query"] for t in qwen["spec"]["triggers"]), (
        "a model's entry is merged over vllm.defaults key by key: the default running trigger applies"
    )


def gateway_keda_query(docs: list[Obj]) -> str:
    (scaled,) = of_kind(docs, "ScaledObject")
    query: str = scaled["spec"]["triggers"][0]["metadata"]["query"]
    return query


def test_gateway_keda_trigger_uses_the_in_flight_metric() -> None:
    docs = objects(
        {
            "secrets": {"databaseUrl": {"name": "db", "key": "url"}},
            "gateway": {"autoscaling": {"keda": {"enabled": True}}},
        }
    )
    assert gateway_keda_query(docs).startswith("sum(inferstack_gateway_requests_in_flight{")


def policies(docs: list[Obj]) -> dict[str, Obj]:
    return {
        p["metadata"]["name"].removeprefix("demo-inferstack-np-"): p["spec"] for p in of_kind(docs, "NetworkPolicy")
    }


def peers_components(rule: Obj, key: str) -> set[str]:
    found: set[str] = set()
    for peer in rule.get(key, []):
        for expr in peer.get("podSelector", {}).get("matchExpressions", []):
            if expr["key"] == "app.kubernetes.io/component":
                found |= set(expr["values"])
    return found


def ports(rule: Obj) -> set[int]:
    return {p["port"] for p in rule.get("ports", [])}


def test_network_policies_default_deny_plus_exactly_the_stack_flows() -> None:
    np = policies(rendered_example("gpu-vllm").documents())
    assert np["default-deny"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in np["default-deny"]
    dns = np["dns"]["egress"][0]
    assert ports(dns) == {53}
    gateway = np["gateway"]
    assert any(peers_components(r, "from") == {"agent", "weather-chat"} for r in gateway["ingress"])
    to_models = [r for r in gateway["egress"] if peers_components(r, "to")]
    assert peers_components(to_models[0], "to") == {"serve", "vllm-qwen3-14b", "vllm-qwen2-5-vl-7b"}
    assert ports(to_models[0]) == {8000}
    assert any(ports(r) == {5432} for r in gateway["egress"]), "PostgreSQL is configured in this example"
    agent = np["agent"]
    out = {frozenset(peers_components(r, "to")): ports(r) for r in agent["egress"]}
    assert out[frozenset({"gateway"})] == {4000}
    assert out[frozenset({"mcp-web-search"})] == {8001}
    assert out[frozenset({"mcp-filesystem"})] == {8002}
    assert frozenset() not in out, "Milvus Lite: the agent needs no store egress"
    for model in ("serve", "vllm-qwen3-14b"):
        ingress = np[model]["ingress"]
        assert peers_components(ingress[0], "from") == {"gateway"}
        metrics = ingress[1]["from"][0]["namespaceSelector"]["matchLabels"]
        assert metrics == {"kubernetes.io/metadata.name": "monitoring"}
    assert "egress" not in np["serve"] or np["serve"]["egress"] == [], "weights in the image: no internet"
    internet = np["vllm-qwen3-14b"]["egress"][0]["to"][0]["ipBlock"]
    assert "169.254.169.254/32" in internet["except"], "never the instance metadata service"
    web = np["mcp-web-search"]
    assert peers_components(web["ingress"][0], "from") == {"agent"}
    assert web["egress"][0]["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0" and ports(web["egress"][0]) == {443}
    assert np["mcp-filesystem"]["egress"] == [], "the filesystem server talks to nobody"


def test_extra_egress_rules_are_added_to_the_gateway_and_agent() -> None:
    rule = {"to": [{"ipBlock": {"cidr": "52.94.0.0/16"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    np = policies(objects({"networkPolicy": {"extraEgress": {"gateway": [rule], "agent": [rule]}}}))
    assert rule in np["gateway"]["egress"] and rule in np["agent"]["egress"]
    assert rule not in np["serve"].get("egress", [])


def test_weather_services_wiring_key_and_flows() -> None:
    docs = rendered_example("eks-full").documents()
    chat = pod_spec(named(docs, "Deployment", "weather-chat"))["containers"][0]
    assert chat["args"][:2] == ["weather", "serve"] and chat["ports"][0]["containerPort"] == 8081
    key = next(e for e in chat["env"] if e["name"] == "INFERSTACK_WEATHER_API_KEY")
    assert key["valueFrom"]["secretKeyRef"] == {"name": "inferstack-secrets", "key": "weather-chat-api-key"}
    mcp = pod_spec(named(docs, "Deployment", "mcp-weather"))["containers"][0]
    assert mcp["args"][:2] == ["mcp", "weather"] and mcp["ports"][0]["containerPort"] == 8003
    assert stack_config(docs)["weather"] == {
        "model": "qwen3-14b",
        "model_base_url": "http://demo-inferstack-gateway:4000/v1",
    }
    np = policies(docs)
    chat_out = np["weather-chat"]["egress"]
    assert peers_components(chat_out[0], "to") == {"gateway"} and ports(chat_out[1]) == {443}
    assert np["mcp-weather"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "MCP clients"
    assert "mcp-weather" not in {c for r in np["agent"]["egress"] for c in peers_components(r, "to")}
    assert not [d for d in objects() if "weather" in d["metadata"]["name"]], "off by default"


def test_internet_egress_only_for_web_search_when_enabled() -> None:
    np = policies(rendered_example("cpu-laptop").documents())
    assert "mcp-web-search" not in np
    internet = [
        name
        for name, spec in np.items()
        for rule in spec.get("egress", [])
        for peer in rule.get("to", [])
        if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
    ]
    assert internet == [], f"no internet egress with web search off and weights in the image: {internet}"


def test_shared_knowledge_and_session_stores_get_their_egress() -> None:
    np = policies(rendered_example("eks-full").documents())
    outside = [ports(r) for r in np["agent"]["egress"] if r.get("to", [{}])[0].get("ipBlock")]
    assert sorted(outside, key=sorted) == [{443}, {6379}], "OpenSearch and the Redis session store"


def test_migration_runs_once_per_release_in_a_pre_install_hook() -> None:
    docs = rendered_example("eks-full").documents()
    jobs = [j for j in of_kind(docs, "Job") if j["metadata"]["labels"]["app.kubernetes.io/component"] == "migrate"]
    (job,) = jobs
    hooks = job["metadata"]["annotations"]
    assert hooks["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hooks["argocd.argoproj.io/hook"] == "PreSync"
    (c,) = pod_spec(job)["containers"]
    assert c["args"] == ["gateway", "migrate", "--config", "/etc/inferstack/inferstack.yaml"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}
    gateway_env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in pod_spec(named(docs, "Deployment", "gateway"))["containers"][0]["env"]
        if "valueFrom" in e
    }
    assert env == gateway_env, "the Job reaches the database exactly as the gateway does"
    config_name = pod_spec(job)["volumes"][0]["configMap"]["name"]
    (hook_config,) = [
        c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == config_name
    ]  # its own ConfigMap: a pre-install hook runs before the release's objects exist
    assert "helm.sh/hook" in hook_config["metadata"]["annotations"]
    sqlite = rendered_example("cpu-laptop").documents()
    assert not [j for j in of_kind(sqlite, "Job") if "migrate" in j["metadata"]["name"]], (
        "SQLite lives in the gateway pod, which migrates it at start"
    )


def test_ingest_job_and_cron_job_ask_the_agent_to_embed_its_knowledge_source() -> None:
    docs = rendered_example("eks-full").documents()
    (job,) = [j for j in of_kind(docs, "Job") if j["metadata"]["labels"]["app.kubernetes.io/component"] == "ingest"]
    args = pod_spec(job)["containers"][0]["args"]
    assert args[:4] == ["deploy", "embed", "--agent-url", "http://demo-inferstack-agent:8080"]
    (cron,) = of_kind(docs, "CronJob")
    assert cron["spec"]["schedule"] == "0 3 * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    agent = pod_spec(named(docs, "Deployment", "agent"))
    source = next(v for v in agent["volumes"] if v["name"] == "knowledge-source")
    assert source["persistentVolumeClaim"] == {"claimName": "inferstack-knowledge", "readOnly": True}
    mount: dict[str, Any] = next(m for m in agent["containers"][0]["volumeMounts"] if m["name"] == "knowledge-source")
    assert stack_config(docs)["agent"]["embed_path"] == mount["mountPath"]


def test_ingress_is_internal_alb_by_default_and_routes_gateway_and_agent() -> None:
    (ingress,) = of_kind(rendered_example("eks-full").documents(), "Ingress")
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internal"
    hosts = {r["host"]: r["http"]["paths"][0]["backend"]["service"]["name"] for r in ingress["spec"]["rules"]}
    assert hosts == {
        "llm.internal.example.com": "demo-inferstack-gateway",
        "agent.internal.example.com": "demo-inferstack-agent",
        "weather.internal.example.com": "demo-inferstack-weather-chat",
    }


def test_monitoring_objects_only_when_switched_on() -> None:
    assert not [d for d in objects() if d["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule")]
    monitors = of_kind(rendered_example("eks-full").documents(), "ServiceMonitor")
    assert {m["metadata"]["labels"]["release"] for m in monitors} == {"kube-prometheus-stack"}
    assert all(m["spec"]["endpoints"][0]["path"] == "/metrics" for m in monitors)
    services = of_kind(rendered_example("eks-full").documents(), "Service")
    for monitor in monitors:
        selector = monitor["spec"]["selector"]
        chosen = [
            svc["metadata"]["name"]
            for svc in services
            if selector["matchLabels"].items() <= svc["metadata"]["labels"].items()
            and "inferstack.io/headless" not in svc["metadata"]["labels"]
        ]
        assert len(chosen) == 1, f"{monitor['metadata']['name']} scrapes each pod once, through {chosen}"


def test_dashboards_and_alert_rules_load_from_files(tmp_path: Path) -> None:
    """Whatever files/dashboards and files/alerts hold (nothing, or the shipped ones, or these) renders."""
    chart = tmp_path / "inferstack"
    shutil.copytree(chart_file(), chart)
    (chart / "files" / "dashboards").mkdir(parents=True, exist_ok=True)
    (chart / "files" / "alerts" / "tests").mkdir(parents=True, exist_ok=True)
    (chart / "files" / "dashboards" / "zz_test_board.json").write_text('{"title": "Test board", "panels": []}\n')
    (chart / "files" / "alerts" / "zz-test.yaml").write_text(
        "groups:\n  - name: zz-test\n    rules:\n      - alert: ZzTest\n        expr: vector(1) > 2\n"
        "        annotations: {summary: 'value {{ $value }}'}\n"
    )
    (chart / "files" / "alerts" / "tests" / "zz-test.yaml").write_text("rule_files: [../zz-test.yaml]\n")
    switched = {"monitoring": {"prometheusRule": {"enabled": True}, "dashboards": {"enabled": True}}}
    docs = render(switched, release=RELEASE, namespace=NAMESPACE, chart=chart).documents()
    boards = {c["metadata"]["name"]: c for c in of_kind(docs, "ConfigMap") if "dashboard" in c["metadata"]["name"]}
    board = boards["demo-inferstack-dashboard-zz-test-board"]
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["zz_test_board.json"])["title"] == "Test board"
    (rule,) = of_kind(docs, "PrometheusRule")
    groups = {g["name"]: g for g in rule["spec"]["groups"]}
    assert groups["zz-test"]["rules"][0]["annotations"]["summary"] == "value {{ $value }}", "kept verbatim"
    shipped = sorted(chart_file("files", "alerts").glob("*.yaml"))
    for path in shipped:
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            assert group["name"] in groups, f"{path.name}: group {group['name']} missing from the PrometheusRule"
    shipped_boards = sorted(chart_file("files", "dashboards").glob("*.json"))
    assert len(boards) == len(shipped_boards) + 1
    empty = tmp_path / "empty"
    shutil.copytree(chart_file(), empty)
    shutil.rmtree(empty / "files")
    docs = render(switched, release=RELEASE, namespace=NAMESPACE, chart=empty).documents()
    assert of_kind(docs, "PrometheusRule") == [], "no rule files: no empty PrometheusRule"
