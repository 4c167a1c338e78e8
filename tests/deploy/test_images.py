"""The container images, built with scripts/build-images.sh and run with podman as the cluster runs them.

Non-root (uid 10001), read-only root filesystem with /tmp and /var/lib/inferstack as the only writable paths,
host network on free loopback ports. serve-cpu answers a chat completion from the official `openai` SDK
through the gateway running from core, and runs document processing with its OCR models loaded; the agent image
keeps a Milvus Lite store; core stays within 400 MB. The first run
builds the base image and wheelhouses (minutes, cached in ~/.cache/inferstack-images); later runs reuse every
unchanged layer, so a source change rebuilds only the layer holding the inferstack package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
import pytest
import yaml

from tests.support.processes import REPO_ROOT, RunningProcess, free_port, stop, wait_healthy

pytestmark = [pytest.mark.images, pytest.mark.timeout(3600)]

CACHE = Path(os.environ.get("INFERSTACK_IMAGE_CACHE", Path.home() / ".cache" / "inferstack-images"))
VERSION = "0.1.0"
CORE = f"localhost/inferstack-core:{VERSION}"
AGENT = f"localhost/inferstack-agent:{VERSION}"
SERVE = f"localhost/inferstack-serve-cpu:{VERSION}"
RAY = f"localhost/inferstack-ray-cpu:{VERSION}"
MASTER_KEY = "sk-image-test-master-key"
# The uncompressed size core must stay within (docs/containers.md).
CORE_MAX_BYTES = 400_000_000
# Compiler, assembler, linker and make binaries: none may be in a runtime image.
TOOLCHAIN = r"(cc|c\+\+|gcc.*|g\+\+.*|clang.*|ld|ld\.(bfd|gold|lld)|as|make)"
# What the host allows here: runc (crun fails on hybrid cgroups), ulimits no higher than the current ones.
RUN_OPTIONS = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]
CONTAINER_OPTIONS = [
    "--network=host",
    "--ulimit=nofile=4096:4096",
    "--ulimit=nproc=4096:4096",
    "--read-only",
    "--tmpfs=/tmp:rw,mode=1777",
    # The data volume belongs to the container's user, as fsGroup makes an emptyDir on Kubernetes.
    "--mount=type=tmpfs,destination=/var/lib/inferstack,chown=true",
    "--user=10001:10001",
]


def podman_command() -> list[str]:
    """`podman` with the storage options the build script chose (overlay or vfs), written next to its cache."""
    return ["podman", *(CACHE / "podman-storage").read_text().split()]


def podman(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [*podman_command(), *RUN_OPTIONS, *args]
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout)


def in_image(image: str, script: str) -> str:
    """Run `script` with /bin/sh in a read-only, non-root container of `image`; its stdout."""
    result = podman("run", "--rm", *CONTAINER_OPTIONS, "--entrypoint=/bin/sh", image, "-c", script, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def images() -> None:
    if shutil.which("podman") is None and shutil.which("apt-get") is None:
        pytest.skip("podman/buildah are not installed and cannot be installed with apt-get here")
    result = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-images.sh"), "core", "agent", "serve-cpu", "ray-cpu"],
        capture_output=True,
        text=True,
        timeout=3300,
    )
    assert result.returncode == 0, result.stderr[-4000:]


@contextmanager
def container(
    image: str, args: list[str], log_dir: Path, *, volumes: tuple[str, ...] = (), env: tuple[str, ...] = ()
) -> Iterator[RunningProcess]:
    """`podman run` of `image` with `args` plus `--port <free port>`, yielded once /health answers 200."""
    port = free_port()
    name = f"inferstack-test-{uuid.uuid4().hex[:8]}"
    log_path = log_dir / f"{name}.log"
    extra = [f"--volume={volume}" for volume in volumes] + [f"--env={variable}" for variable in env]
    command = [*podman_command(), *RUN_OPTIONS, "run", "--rm", f"--name={name}", *CONTAINER_OPTIONS, *extra, image]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*command, *args, "--host", "127.0.0.1", "--port", str(port)], stdout=log_file, stderr=subprocess.STDOUT
        )
        proc = RunningProcess(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
        try:
            yield proc
        finally:
            stop(proc)
            podman("rm", "--force", "--ignore", name, check=False)


def test_every_image_runs_as_uid_10001_with_its_labels_and_no_compiler(images: None) -> None:
    titled = (
        (CORE, "inferstack-core"),
        (AGENT, "inferstack-agent"),
        (SERVE, "inferstack-serve-cpu"),
        (RAY, "inferstack-ray-cpu"),
    )
    for image, title in titled:
        inspected = json.loads(podman("image", "inspect", image).stdout)[0]
        config = inspected["Config"]
        assert config["User"] == "10001:10001"
        assert config["Entrypoint"] == ["inferstack"]
        assert set(config["Volumes"]) == {"/tmp", "/var/lib/inferstack"}
        assert "HOME=/var/lib/inferstack" in config["Env"]
        labels = config["Labels"]
        assert labels["org.opencontainers.image.title"] == title
        assert labels["org.opencontainers.image.version"] == VERSION
        assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
        assert labels["org.opencontainers.image.source"].startswith("https://")
        assert len(labels["org.opencontainers.image.revision"]) == 40
        out = in_image(
            image,
            "id -u; id -g; echo $HOME; "
            "touch /opt/inferstack/x 2>/dev/null && echo root-writable || echo root-read-only; "
            "touch /var/lib/inferstack/x /tmp/x && echo volumes-writable; "
            f"ls /usr/bin /usr/local/bin | grep -xE '{TOOLCHAIN}' || echo no-toolchain",
        )
        assert out.split() == [
            "10001",
            "10001",
            "/var/lib/inferstack",
            "root-read-only",
            "volumes-writable",
            "no-toolchain",
        ]


def test_core_stays_within_400_mb_without_milvus_lite_or_dependency_bytecode(images: None) -> None:
    size = int(podman("image", "inspect", "--format", "{{.Size}}", CORE).stdout)
    assert size <= CORE_MAX_BYTES, f"core is {size} bytes"
    probe = "import importlib.util as u; print([m for m in ('milvus_lite', 'pyarrow', 'faiss') if u.find_spec(m)])"
    out = in_image(
        CORE,
        f'python3 -c "{probe}"; '
        "find /opt/inferstack -name '*.pyc' -not -path '*/site-packages/inferstack/*' | wc -l; "
        "find /opt/inferstack/lib/python3.11/site-packages/inferstack -name '*.pyc' | wc -l; "
        "test -e /opt/inferstack/bin/pip && echo pip || echo no-pip",
    )
    foreign, dependency_bytecode, own_bytecode, pip = out.split("\n")[:4]
    assert (foreign, dependency_bytecode, pip) == ("[]", "0", "no-pip")
    assert int(own_bytecode) > 0
    # The agent and the gateway import in core (its store is OpenSearch or a Milvus build; docs/containers.md).
    in_image(CORE, "python3 -c 'import inferstack.agents.app, inferstack.gateway.app, strands, opensearchpy'")


def test_the_agent_image_keeps_a_milvus_lite_store_on_the_data_volume(images: None) -> None:
    # The chart's default knowledge store: a Milvus Lite file under /var/lib/inferstack, on a read-only root.
    script = (
        "from pymilvus import MilvusClient; "
        "c = MilvusClient('/var/lib/inferstack/knowledge.db'); "
        "c.create_collection('chunks', dimension=4); "
        "c.insert('chunks', [{'id': 1, 'vector': [0.1, 0.2, 0.3, 0.4]}]); "
        "print(c.search('chunks', [[0.1, 0.2, 0.3, 0.4]], limit=1)[0][0]['id'])"
    )
    assert in_image(AGENT, f'python3 -c "{script}"').strip().splitlines()[-1] == "1"


def test_core_has_no_torch_ray_or_llamacpp_and_says_which_extra_serve_needs(images: None) -> None:
    heavy = ("torch", "ray", "xllamacpp", "sentence_transformers", "transformers", "vllm")
    probe = f"import importlib.util as u; print([m for m in {json.dumps(heavy)} if u.find_spec(m)])"
    assert in_image(CORE, f"python3 -c '{probe}'").strip() == "[]"
    assert in_image(SERVE, f"python3 -c '{probe}'").strip() != "[]"
    # The core image's own inferstack refuses to serve a model, in one line naming the extra.
    result = podman("run", "--rm", *CONTAINER_OPTIONS, CORE, "serve", "--port", "1", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "inferstack serve: needs the 'serve' extra: pip install 'inferstack[serve]'"


def test_serve_cpu_answers_the_openai_sdk_through_the_gateway_from_core(images: None, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    with container(SERVE, ["serve", "--parallel", "1", "--ctx-size", "2048", "--threads", "2"], tmp_path) as serve:
        wait_healthy(serve, "/health", timeout=600)
        config = {
            "gateway": {
                "model_list": [
                    {"model_name": "smollm2", "model": "smollm2-135m-instruct", "api_base": serve.base_url + "/v1"}
                ]
            }
        }
        (config_dir / "inferstack.yaml").write_text(yaml.safe_dump(config))
        config_dir.chmod(0o755)
        (config_dir / "inferstack.yaml").chmod(0o644)
        gateway_args = ["gateway", "--config", "/etc/inferstack/inferstack.yaml"]
        volumes = (f"{config_dir}:/etc/inferstack:ro",)
        env = (f"INFERSTACK_GATEWAY_MASTER_KEY={MASTER_KEY}",)
        with container(CORE, gateway_args, tmp_path, volumes=volumes, env=env) as gateway:
            wait_healthy(gateway, "/health/readiness", timeout=300)
            client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)
            reply = client.chat.completions.create(
                model="smollm2",
                messages=[{"role": "user", "content": "Say hello."}],
                max_tokens=8,
                temperature=0,
            )
            assert reply.choices[0].message.content
            assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_serve_cpu_runs_document_processing_with_its_ocr_models_loaded(images: None, tmp_path: Path) -> None:
    # The chart's idp component runs from serve-cpu; /ready answers 200 only once the OCR models are loaded.
    args = [
        "idp",
        "serve",
        "--database",
        "/var/lib/inferstack/idp.sqlite3",
        "--model-base-url",
        "http://127.0.0.1:9/v1",
    ]
    with container(SERVE, args, tmp_path) as idp:
        wait_healthy(idp, "/ready", timeout=300)
        ready = json.loads(urllib.request.urlopen(idp.base_url + "/ready", timeout=10).read())
        assert ready == {"status": "ready", "ocr": True, "jobs": 0}


def test_ray_cpu_starts_a_ray_head_the_way_kuberay_does_with_the_charts_ray_version(images: None) -> None:
    # KubeRay runs `ray start` through `/bin/bash -lc` (a login shell, which resets PATH) as the pod's user.
    values = yaml.safe_load((REPO_ROOT / "deploy" / "helm" / "inferstack" / "values.yaml").read_text())
    gcs, client, agent = free_port(), free_port(), free_port()
    start = (
        f"ray start --head --port={gcs} --ray-client-server-port={client} --dashboard-agent-listen-port={agent} "
        "--num-cpus=1 --include-dashboard=false --disable-usage-stats >/tmp/ray-start.log 2>&1 "
        "|| { tail -20 /tmp/ray-start.log >&2; exit 1; }"
    )
    probe = (
        "import ray; ray.init(address='auto', logging_level='ERROR'); "
        "print(ray.__version__, ray.cluster_resources()['CPU'])"
    )
    script = (
        f'ray --version >/dev/null && {start} && python3 -c "{probe}"; code=$?; ray stop >/dev/null 2>&1; exit $code'
    )
    result = podman(
        "run",
        "--rm",
        *CONTAINER_OPTIONS,
        "--env=USER=inferstack",
        "--entrypoint=/bin/bash",
        RAY,
        "-lc",
        script,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.split()[-2:] == [values["ray"]["rayVersion"], "1.0"]
