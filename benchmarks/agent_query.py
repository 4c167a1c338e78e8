"""End-to-end latency of the agent's POST /query: p50/p95 overall and per stage (retrieval, grading, generation).

Asks the labelled questions of the packaged sample knowledge base (spread over all topics) and reports client-side
latency, the agent's own stage timings, the routes taken and how often the labelled source was cited.

Against a running agent whose knowledge base holds the sample:

    .venv/bin/python benchmarks/agent_query.py --url http://127.0.0.1:8080 [--questions 40] [--concurrency 1]

Or start everything itself (the default models via `inferstack serve`, then `inferstack agent` with Milvus Lite in a
temporary directory and web search off), ingest the sample through POST /ingest, and measure:

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/agent_query.py --start [--top-k 3] [--max-tokens 256] [--json-out F]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness import inferstack_server
from inferstack.sample_knowledge import documents_dir, eval_questions_path

STAGES = ("retrieval_ms", "grading_ms", "web_search_ms", "first_token_ms", "generation_ms", "total_ms")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def pick_questions(count: int) -> list[dict[str, Any]]:
    """`count` labelled questions, round-robin over topics so every topic is represented."""
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for line in eval_questions_path().read_text().splitlines():
        item = json.loads(line)
        by_topic.setdefault(item["topic"], []).append(item)
    picked: list[dict[str, Any]] = []
    depth = 0
    while len(picked) < count and any(depth < len(items) for items in by_topic.values()):
        for items in by_topic.values():
            if depth < len(items) and len(picked) < count:
                picked.append(items[depth])
        depth += 1
    return picked


async def run_queries(
    url: str, questions: list[dict[str, Any]], concurrency: int, api_key: str | None, top_k: int | None
) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as client:

        async def one(item: dict[str, Any]) -> dict[str, Any]:
            async with limit:
                started = time.perf_counter()
                body = {"question": item["question"], **({"top_k": top_k} if top_k else {})}
                response = await client.post("/query", json=body)
                wall_ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                return {"ok": False, "status": response.status_code, "wall_ms": wall_ms, "error": response.text[:200]}
            body = response.json()
            sources = [s["source"] for s in body["sources"] if s.get("kind") == "knowledge"]
            return {
                "ok": True,
                "wall_ms": wall_ms,
                "route": body["route"],
                "timings": body["timings"],
                "cited": item["source"] in sources,
                "answer_chars": len(body["answer"]),
            }

        return list(await asyncio.gather(*(one(item) for item in questions)))


def summarise(results: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    ok = [r for r in results if r["ok"]]
    summary: dict[str, Any] = {
        "requests": len(results),
        "succeeded": len(ok),
        "failed": [r for r in results if not r["ok"]],
        "wall_s": round(wall_s, 2),
        "routes": dict(Counter(r["route"] for r in ok)),
        "labelled_source_cited": round(sum(r["cited"] for r in ok) / max(1, len(ok)), 3),
        "mean_answer_chars": round(statistics.mean(r["answer_chars"] for r in ok), 1) if ok else None,
    }
    if ok:
        walls = [r["wall_ms"] for r in ok]
        summary["client_ms"] = {"p50": round(percentile(walls, 50), 1), "p95": round(percentile(walls, 95), 1)}
        summary["stages_ms"] = {
            stage.removesuffix("_ms"): {
                "p50": round(percentile([r["timings"].get(stage, 0.0) for r in ok], 50), 1),
                "p95": round(percentile([r["timings"].get(stage, 0.0) for r in ok], 95), 1),
            }
            for stage in STAGES
        }
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    print(f"requests {summary['succeeded']}/{summary['requests']} ok in {summary['wall_s']} s")
    if "client_ms" in summary:
        client = summary["client_ms"]
        print(f"POST /query end to end (client): p50 {client['p50']:.0f} ms   p95 {client['p95']:.0f} ms")
        for stage, values in summary["stages_ms"].items():
            print(f"  {stage:<11} p50 {values['p50']:>8.1f} ms   p95 {values['p95']:>8.1f} ms")
    print(f"routes {summary['routes']}   labelled source cited {summary['labelled_source_cited']:.0%}")
    for failure in summary["failed"]:
        print(f"  failed: HTTP {failure['status']} {failure['error']}")


@contextlib.contextmanager
def started_stack(workdir: Path, max_tokens: int | None) -> Iterator[str]:
    """`inferstack serve` + `inferstack agent` on free ports, the sample ingested; yields the agent's URL."""
    with inferstack_server("serve", ["serve"], logs=workdir) as serve:
        model_url = serve.url + "/v1"
        agent: dict[str, Any] = {"model_base_url": model_url, "web_search_url": "", "filesystem_url": ""}
        if max_tokens is not None:
            agent["max_tokens"] = max_tokens
        config = {"agent": agent, "knowledge": {"data_dir": str(workdir / "data"), "embedding_base_url": model_url}}
        (workdir / "stack.yaml").write_text(yaml.safe_dump(config))
        with inferstack_server(
            "agent", ["agent", "--config", str(workdir / "stack.yaml")], logs=workdir
        ) as agent_server:
            url = agent_server.url
            job = httpx.post(url + "/ingest", json={"path": str(documents_dir())}, timeout=30).json()
            state = job
            while state["status"] in ("queued", "running"):
                time.sleep(0.5)
                state = httpx.get(f"{url}/ingest/{job['job_id']}", timeout=10).json()
            if state["status"] != "succeeded":
                raise RuntimeError(f"ingest failed: {state['error']}")
            print(f"ingested {state['report']['chunks_written']} chunks in {state['report']['duration_s']:.1f} s")
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="A running agent whose knowledge base holds the sample.")
    target.add_argument("--start", action="store_true", help="Start the model server and an agent for the run.")
    parser.add_argument("--questions", type=int, default=40, help="Labelled questions to ask [40].")
    parser.add_argument("--warmup", type=int, default=3, help="Unmeasured questions first [3].")
    parser.add_argument("--concurrency", type=int, default=1, help="Queries in flight at once [1].")
    parser.add_argument("--top-k", type=int, default=None, help="top_k sent with each query [agent default].")
    parser.add_argument("--max-tokens", type=int, default=None, help="--start only: agent.max_tokens.")
    parser.add_argument("--api-key", default=os.environ.get("INFERSTACK_AGENT_SERVER_API_KEY"))
    parser.add_argument("--json-out", type=Path, help="Also write the summary as JSON here.")
    options = parser.parse_args()

    questions = pick_questions(options.warmup + options.questions)
    warmup, measured = questions[: options.warmup], questions[options.warmup :]
    with contextlib.ExitStack() as stack:
        if options.start:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agent-bench-")))
            url = stack.enter_context(started_stack(workdir, options.max_tokens))
        else:
            url = options.url
        asyncio.run(run_queries(url, warmup, 1, options.api_key, options.top_k))
        started = time.perf_counter()
        results = asyncio.run(run_queries(url, measured, options.concurrency, options.api_key, options.top_k))
        summary = summarise(results, time.perf_counter() - started)
    summary["concurrency"] = options.concurrency
    summary["top_k"] = options.top_k
    summary["load_average_1m"] = round(os.getloadavg()[0], 2)
    print_summary(summary)
    if options.json_out:
        options.json_out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
