"""Chaos through `inferstack up`: under steady load through the gateway (openai SDK chat) and the agent
(`POST /query`), SIGKILL each service of a running stack in turn and measure what clients see and what is kept.

Per service: the client-visible outcomes from the kill until recovery (by HTTP status and error type, or
"connection error" when nothing listens), whether every error was clean (OpenAI's error shape; `Retry-After`
on 429/503), requests that hung past the client's timeout, the time from the kill to the first success of a
request sent after it (per client), and the time until `up` reported the service back. After the gateway's
round: spend in the key store equals the clients' tokens × the stack's prices, and a key created before the kill
still works. After the agent's round: the chunks present before the kill are still there, and an ingest job
running at the kill is gone with the process (404 `job_not_found`), while resubmitting it resumes (files
finished before are kept, the rest are added, nothing is duplicated).

    .venv/bin/python benchmarks/chaos.py [--services serve,gateway,web_search,filesystem,agent]
                                         [--warmup 5] [--after 5] [--out-dir D]

Writes chaos.json (settings, every round, the checks) and prints a table, to
benchmarks/results/chaos-<time>/ unless `--out-dir` says otherwise. tests/e2e/test_chaos.py runs the same
rounds, shorter.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e.running_stack import SERVICES, Stack, write_config  # noqa: E402

from inferstack.stack.config_file import DEFAULT_CHAT_PRICES  # noqa: E402

CHAT_MODEL = "smollm2-135m-instruct"
QUESTION = "What is a Kubernetes DaemonSet?"
GATEWAY_TIMEOUT_S = 60.0
AGENT_TIMEOUT_S = 150.0  # above the agent's own query timeout (120 s): a hang shows as "timeout"
RECOVERY_DEADLINE_S = 300.0
INGEST_FILES = 80
# The gateway writes spend every `usage_flush_interval_s` (1 s); spend of requests answered within this window
# before a SIGKILL may not be written yet.
LOSS_WINDOW_S = 3.0
_ERROR_FIELDS = {"message", "type", "param", "code"}


@dataclass(frozen=True)
class Outcome:
    """One client request: when it was sent and answered, what the client saw, and what it cost."""

    client: str
    started: float
    ended: float
    kind: str  # "ok", "<status> <error type>", "connection error", "timeout"
    clean: bool  # ok, or an error a client can act on (OpenAI's shape, Retry-After on 429/503, or refused)
    cost: float = 0.0
    detail: str = ""


def _error_outcome(client: str, started: float, status: int, headers: httpx.Headers, body: Any) -> Outcome:
    error = body.get("error") if isinstance(body, dict) else None
    shaped = isinstance(error, dict) and set(error) >= _ERROR_FIELDS
    kind = f"{status} {error.get('type')}" if shaped else f"{status} (not OpenAI's error shape)"  # type: ignore[union-attr]
    retry_ok = status not in (429, 503) or "retry-after" in headers
    detail = f"{error.get('code')}: {str(error.get('message'))[:200]}" if shaped else str(body)[:200]  # type: ignore[union-attr]
    if not retry_ok:
        kind += " without Retry-After"
    return Outcome(client, started, time.monotonic(), kind, shaped and retry_ok, detail=detail)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def gateway_request(base_url: str, key: str, prices: dict[str, float]) -> Callable[[], Outcome]:
    """One chat completion through the gateway with the openai SDK (no retries), priced from its usage."""
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, timeout=GATEWAY_TIMEOUT_S, max_retries=0)

    def send() -> Outcome:
        started = time.monotonic()
        try:
            reply = client.chat.completions.create(
                model=CHAT_MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
            )
        except openai.APITimeoutError:
            return Outcome("gateway", started, time.monotonic(), "timeout", False)
        except openai.APIConnectionError:
            return Outcome("gateway", started, time.monotonic(), "connection error", True)
        except openai.APIStatusError as exc:
            return _error_outcome("gateway", started, exc.status_code, exc.response.headers, _json(exc.response))
        usage = reply.usage
        assert usage is not None
        cost = (
            usage.prompt_tokens * prices["input_cost_per_token"]
            + usage.completion_tokens * prices["output_cost_per_token"]
        )
        return Outcome("gateway", started, time.monotonic(), "ok", True, cost=cost)

    return send


def agent_request(base_url: str) -> Callable[[], Outcome]:
    """One `POST /query` to the agent."""
    http = httpx.Client(timeout=AGENT_TIMEOUT_S)

    def send() -> Outcome:
        started = time.monotonic()
        try:
            response = http.post(f"{base_url}/query", json={"question": QUESTION})
        except httpx.TimeoutException:
            return Outcome("agent", started, time.monotonic(), "timeout", False)
        except httpx.TransportError:
            return Outcome("agent", started, time.monotonic(), "connection error", True)
        if response.status_code == 200:
            return Outcome("agent", started, time.monotonic(), "ok", True)
        return _error_outcome("agent", started, response.status_code, response.headers, _json(response))

    return send


@dataclass
class LoadLoop:
    """Sends one request after another on a thread until stopped, recording every outcome."""

    send: Callable[[], Outcome]
    pause_s: float = 0.05
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.outcomes.append(self.send())
            self._stop.wait(self.pause_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=AGENT_TIMEOUT_S + 10)

    def successes_since(self, moment: float) -> list[Outcome]:
        return [o for o in list(self.outcomes) if o.kind == "ok" and o.started > moment]


@dataclass
class ChaosStack:
    """A running `up` plus what the rounds need from it: URLs, the master key, a virtual key for the load."""

    stack: Stack
    ports: dict[str, int]
    workdir: Path

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def master(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {(self.stack.data_dir / 'master.key').read_text().strip()}"}

    def new_key(self, alias: str) -> str:
        response = httpx.post(f"{self.url('gateway')}/key/generate", json={"key_alias": alias}, headers=self.master)
        response.raise_for_status()
        key: str = response.json()["key"]
        return key

    def spend(self, key: str) -> float:
        response = httpx.get(f"{self.url('gateway')}/key/info", params={"key": key}, headers=self.master, timeout=30)
        response.raise_for_status()
        spend: float = response.json()["info"]["spend"]
        return spend

    def agent(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url('agent')}{path}", timeout=60, **kwargs)

    def chunk_count(self) -> int:
        count: int = self.agent("GET", "/status").json()["knowledge"]["chunk_count"]
        return count

    def kill(self, service: str) -> int:
        """SIGKILL the service's main process (as a crash would: its own children are left to the service)."""
        process = self.stack.service_process(service)
        process.send_signal(signal.SIGKILL)
        return process.pid


@contextmanager
def running_stack(workdir: Path) -> Iterator[ChaosStack]:
    """`inferstack up` on free ports in `workdir` (config, data dir, log), the agent allowed to ingest there."""
    config = workdir / "inferstack.yaml"
    ports = write_config(config, agent={"ingest_roots": [str(workdir)]})
    stack = Stack(config, workdir / "data", workdir / "up.log")
    with stack.running():
        yield ChaosStack(stack, ports, workdir)


def _wait(condition: Callable[[], bool], what: str, timeout: float = RECOVERY_DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not seen within {timeout:g} s")
        time.sleep(0.25)


def _ok(call: Callable[[], httpx.Response]) -> bool:
    try:
        return call().status_code == 200
    except httpx.TransportError:
        return False


def _ingest_folder(workdir: Path, files: int) -> Path:
    folder = workdir / "chaos-docs"
    folder.mkdir(exist_ok=True)
    paragraph = "The {n} relay of the chaos archive forwards signal {n} to the tower every {m} minutes. " * 12
    for n in range(files):
        (folder / f"note-{n:02d}.md").write_text(f"# Note {n}\n\n" + paragraph.format(n=n, m=n + 3) * 4)
    return folder


def _start_ingest(chaos: ChaosStack, files: int) -> dict[str, Any]:
    """Submit an ingest job of `files` files and wait until it is running and has finished at least one file."""
    folder = _ingest_folder(chaos.workdir, files)
    job: dict[str, Any] = chaos.agent("POST", "/ingest", json={"path": str(folder)}).json()

    def progressing() -> bool:
        state = chaos.agent("GET", f"/ingest/{job['job_id']}").json()
        if state["status"] in ("succeeded", "failed"):
            raise AssertionError(f"the ingest job ended before the kill: {state}")
        return state["status"] == "running" and int(state["progress"].get("files_done", 0) or 0) >= 1

    _wait(progressing, "the ingest job running", timeout=120)
    return {"job_id": job["job_id"], "path": str(folder), "files": files}


def _after_agent_restart(chaos: ChaosStack, chunks_before: int, job: dict[str, Any]) -> dict[str, Any]:
    """What became of the knowledge and of the ingest job that was running when the agent died."""
    chunks_after_restart = chaos.chunk_count()
    lost_job = chaos.agent("GET", f"/ingest/{job['job_id']}")
    again = chaos.agent("POST", "/ingest", json={"path": job["path"]}).json()

    def finished() -> bool:
        return chaos.agent("GET", f"/ingest/{again['job_id']}").json()["status"] not in ("queued", "running")

    _wait(finished, "the resubmitted ingest job finishing", timeout=600)
    resumed = chaos.agent("GET", f"/ingest/{again['job_id']}").json()
    sources = chaos.agent("GET", "/knowledge/sources").json()["data"]
    ours = [s for s in sources if "note-" in str(s.get("source"))]
    chunks_final = chaos.chunk_count()
    listed_chunks = sum(int(s.get("chunks", 0)) for s in sources)
    return {
        "chunks_before_kill": chunks_before,
        "chunks_after_restart": chunks_after_restart,
        "knowledge_kept": chunks_after_restart >= chunks_before,
        "job_after_restart": {"status": lost_job.status_code, "body": lost_job.json()},
        "resubmitted_job": {"status": resumed["status"], "report": resumed.get("report")},
        "files_listed_after_resume": len(ours),
        "chunks_final": chunks_final,
        "chunks_listed_by_source": listed_chunks,
        "no_duplicates": chunks_final == listed_chunks and len(ours) == job["files"],
    }


def chaos_round(
    chaos: ChaosStack, service: str, *, warmup_s: float, after_s: float, ingest_files: int = INGEST_FILES
) -> dict[str, Any]:
    """Load through the gateway and the agent, SIGKILL `service`, wait for recovery, and measure."""
    prices = dict(DEFAULT_CHAT_PRICES)
    key = chaos.new_key(f"chaos-{service}")
    key_before = chaos.new_key(f"chaos-{service}-made-before")
    loads = {
        "gateway": LoadLoop(gateway_request(chaos.url("gateway"), key, prices)),
        "agent": LoadLoop(agent_request(chaos.url("agent"))),
    }
    extra: dict[str, Any] = {}
    for load in loads.values():
        load.start()
    try:
        began = time.monotonic()
        _wait(lambda: all(load.successes_since(began) for load in loads.values()), "a success of each client")
        time.sleep(warmup_s)
        if service == "agent":
            extra["chunks_before"] = chaos.chunk_count()
            extra["job"] = _start_ingest(chaos, ingest_files)
        mark = len(chaos.stack.log())
        killed_at = time.monotonic()
        pid = chaos.kill(service)
        up_name = {"web_search": "web-search"}.get(service, service)
        chaos.stack.wait_for(f"{up_name} is back", timeout=RECOVERY_DEADLINE_S, after=mark)
        back_at = time.monotonic()
        _wait(lambda: all(load.successes_since(killed_at) for load in loads.values()), "a success after the kill")
        time.sleep(after_s)
    finally:
        for load in loads.values():
            load.stop()
    result: dict[str, Any] = {"service": service, "killed_pid": pid, "restarted_after_s": round(back_at - killed_at, 2)}
    for name, load in loads.items():
        outcomes = list(load.outcomes)
        first_ok = min(o.ended for o in load.successes_since(killed_at))
        during = [o for o in outcomes if o.ended > killed_at and o.started < first_ok and o.kind != "ok"]
        result[name] = {
            "requests": len(outcomes),
            "ok": sum(o.kind == "ok" for o in outcomes),
            "errors": dict(Counter(o.kind for o in outcomes if o.kind != "ok")),
            "errors_during_outage": dict(Counter(o.kind for o in during)),
            "error_codes": dict(Counter(o.detail.split(":", 1)[0] for o in outcomes if o.kind != "ok" and o.detail)),
            "error_examples": {o.detail.split(":", 1)[0]: o.detail for o in outcomes if o.kind != "ok" and o.detail},
            "unclean": [o.kind for o in outcomes if not o.clean],
            "hung": sum(o.kind == "timeout" for o in outcomes),
            "max_error_latency_s": round(max((o.ended - o.started for o in outcomes if o.kind != "ok"), default=0), 2),
            "recovery_s": round(first_ok - killed_at, 2),
        }
    result["spend"] = _spend_check(chaos, key, loads["gateway"], killed_at)
    result["key_made_before_kill_works"] = gateway_request(chaos.url("gateway"), key_before, prices)().kind == "ok"
    if service == "agent":
        result["knowledge"] = _after_agent_restart(chaos, extra["chunks_before"], extra["job"])
    return result


def _spend_check(chaos: ChaosStack, key: str, load: LoadLoop, killed_at: float) -> dict[str, Any]:
    """The key store's spend for `key` against the clients' completed requests × price (after the writer's flush).

    `lost` is what the clients were served but the store never charged; `at_risk` is the cost of the requests
    answered in the `LOSS_WINDOW_S` before the kill (spend the gateway had not yet written when it died)."""
    ok = [o for o in load.outcomes if o.kind == "ok"]
    expected = math.fsum(o.cost for o in ok)
    deadline = time.monotonic() + 15
    stored = chaos.spend(key)
    while not math.isclose(stored, expected, rel_tol=1e-9) and time.monotonic() < deadline:
        time.sleep(0.5)
        stored = chaos.spend(key)
    at_risk = [o for o in ok if killed_at - LOSS_WINDOW_S < o.ended <= killed_at]
    return {
        "client_cost": expected,
        "stored": stored,
        "exact": math.isclose(stored, expected, rel_tol=1e-9),
        "overcharged": stored > expected and not math.isclose(stored, expected, rel_tol=1e-9),
        "lost": max(0.0, expected - stored),
        "lost_requests_estimate": round(max(0.0, expected - stored) / (ok[0].cost if ok else 1), 1),
        "at_risk": math.fsum(o.cost for o in at_risk),
    }


def table(rounds: list[dict[str, Any]]) -> str:
    """A small text table of the rounds: per killed service and client, errors, hangs, recovery."""
    lines = [
        f"{'killed':<11} {'client':<8} {'req':>4} {'ok':>4} {'hung':>4} {'recovery s':>10} {'back s':>7}  "
        "errors during outage",
    ]
    for r in rounds:
        for client in ("gateway", "agent"):
            c = r[client]
            errors = ", ".join(f"{k} ×{v}" for k, v in sorted(c["errors_during_outage"].items())) or "none"
            lines.append(
                f"{r['service']:<11} {client:<8} {c['requests']:>4} {c['ok']:>4} {c['hung']:>4} "
                f"{c['recovery_s']:>10} {r['restarted_after_s']:>7}  {errors}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", default=",".join(SERVICES), help="services to kill, in order")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before each kill")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of load after recovery")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args()
    from harness import stop_on_sigterm  # beside this script; the tests load this module without it

    stop_on_sigterm()
    out = args.out_dir or REPO / "benchmarks" / "results" / f"chaos-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp, running_stack(Path(tmp)) as chaos:
        for service in args.services.split(","):
            print(f"killing {service} …", flush=True)
            rounds.append(chaos_round(chaos, service, warmup_s=args.warmup, after_s=args.after))
            print(table(rounds[-1:]).splitlines()[-2:], flush=True)
    report = {"settings": vars(args) | {"out_dir": str(out)}, "rounds": rounds}
    (out / "chaos.json").write_text(json.dumps(report, indent=2, default=str))
    text = table(rounds)
    (out / "chaos.txt").write_text(text + "\n")
    print(text)
    print(f"wrote {out / 'chaos.json'}")


if __name__ == "__main__":
    main()
