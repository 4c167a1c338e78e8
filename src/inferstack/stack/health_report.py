"""What `inferstack status` (and `ask`) say about a running stack: per service, ok / degraded / down and why,
naming the component that is actually at fault (a gateway whose model server is restarting is not "down").

`ok`: works fully. `degraded`: answers, with a capability missing (web search without a Tavily key).
`down`: cannot do its job now; `detail` says why and, where it is another component's fault, which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from inferstack.stack.config_file import StackConfig
from inferstack.stack.data_dir import StackFiles

OK, DEGRADED, DOWN = "ok", "degraded", "down"
NO_TAVILY_KEY = "no Tavily API key: web search returns nothing (set TAVILY_API_KEY where `inferstack up` runs)"

# (name, port field in stack.ports, health path)
SERVICES = (
    ("serve", "serve", "/health"),
    ("gateway", "gateway", "/health/readiness"),
    ("web-search", "web_search", "/health"),
    ("filesystem", "filesystem", "/health"),
    ("agent", "agent", "/health"),
    ("weather", "weather", "/health"),
    ("weather-chat", "weather_chat", "/health"),
    ("idp", "idp", "/ready"),
)
# Services `up` runs only when their `stack` switch (named like the port field) is on.
OPTIONAL = {"web-search", "filesystem", "weather", "weather-chat", "idp"}


@dataclass(frozen=True)
class Probe:
    """One GET: the HTTP status (None when nothing answered), the JSON body (or text), or the error's name."""

    status: int | None
    body: Any

    @property
    def answered(self) -> bool:
        return self.status is not None


Getter = Callable[[str], Probe]


def http_get(url: str) -> Probe:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return Probe(None, type(exc).__name__)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:200]
    return Probe(response.status_code, body)


@dataclass(frozen=True)
class ServiceHealth:
    name: str
    url: str
    status: str
    detail: str

    @property
    def healthy(self) -> bool:
        return self.status != DOWN

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "healthy": self.healthy, "status": self.status, "detail": self.detail}


def check_stack(config: StackConfig, get: Getter = http_get, *, up_running: bool = True) -> list[ServiceHealth]:
    """Probe every service `up` runs under this config (`up_running`: whether an `up` holds its data dir)."""
    logs = StackFiles(config.stack.data_dir).logs
    report = []
    for name, port_field, path in SERVICES:
        if name in OPTIONAL and not getattr(config.stack, port_field):
            continue
        probe = get(config.url(port_field, path))
        status, detail = _JUDGES[name](probe)
        if not probe.answered:
            detail = (
                f"unreachable ({probe.body}); `up` restarts crashed services — see {logs}/{name}.log"
                if up_running
                else f"not running ({probe.body})"
            )
        report.append(ServiceHealth(name, config.url(port_field), status, detail))
    return _blame_upstream(report)


def _serve(probe: Probe) -> tuple[str, str]:
    if probe.status == 200:
        return OK, "model loaded"
    if probe.status == 503:
        return DOWN, "starting: the model is loading"
    return DOWN, _http_detail(probe)


def _gateway(probe: Probe) -> tuple[str, str]:
    body = probe.body if isinstance(probe.body, dict) else {}
    if probe.status == 200:
        dependencies = body.get("dependencies")
        down = [
            f"{name} ({detail.get('error')}): {detail.get('running_without')}"
            for name, detail in (dependencies.items() if isinstance(dependencies, dict) else ())
            if isinstance(detail, dict) and detail.get("up") is False
        ]
        return (DEGRADED, "answers, without " + "; ".join(down)) if down else (OK, "ready")
    models = body.get("models")
    if probe.status == 503 and isinstance(models, dict):
        return DOWN, "running, but " + _unusable_deployments(models)
    if probe.status == 503 and body.get("status") == "starting":
        return DOWN, "starting"
    return DOWN, _http_detail(probe)


def _unusable_deployments(models: dict[str, Any]) -> str:
    problems = []
    for model, deployments in models.items():
        if not isinstance(deployments, list):
            continue
        usable = [d for d in deployments if d.get("healthy") and not d.get("cooling_down_s")]
        if usable:
            continue
        for deployment in deployments:
            why = []
            if not deployment.get("healthy"):
                why.append("fails its health check")
            if deployment.get("cooling_down_s"):
                why.append(f"cooling down for {deployment['cooling_down_s']:.0f} s more after failures")
            if deployment.get("last_error"):
                why.append(f"last error: {deployment['last_error']}")
            problems.append(f"model '{model}' at {deployment.get('api_base')} {', '.join(why) or 'is unusable'}")
    return "no usable upstream: " + ("; ".join(problems) or "no deployments")


def _web_search(probe: Probe) -> tuple[str, str]:
    if probe.status != 200:
        return DOWN, _http_detail(probe)
    body = probe.body if isinstance(probe.body, dict) else {}
    if body.get("tavily_api_key_configured") is False:
        return DEGRADED, NO_TAVILY_KEY
    return OK, "Tavily key configured"


def _plain(probe: Probe) -> tuple[str, str]:
    return (OK, "ok") if probe.status == 200 else (DOWN, _http_detail(probe))


def _idp(probe: Probe) -> tuple[str, str]:
    if probe.status == 200:
        return OK, "OCR models loaded"
    if probe.status == 503 and isinstance(probe.body, dict) and probe.body.get("status") == "loading":
        return DOWN, "starting: the OCR models are loading"
    return DOWN, _http_detail(probe)


def _agent(probe: Probe) -> tuple[str, str]:
    body = probe.body if isinstance(probe.body, dict) else {}
    dependencies = body.get("dependencies")
    failing = []
    if isinstance(dependencies, dict):
        failing = [f"{name}: {dep.get('error')}" for name, dep in dependencies.items() if not dep.get("ok")]
    if probe.status == 200:
        return (DEGRADED, "answers, without " + "; ".join(failing)) if failing else (OK, "ready")
    if failing:
        return DOWN, "cannot answer: " + "; ".join(failing)
    return DOWN, _http_detail(probe)


def _http_detail(probe: Probe) -> str:
    return f"HTTP {probe.status}: {str(probe.body)[:200]}"


_JUDGES: dict[str, Callable[[Probe], tuple[str, str]]] = {
    "serve": _serve,
    "gateway": _gateway,
    "web-search": _web_search,
    "filesystem": _plain,
    "agent": _agent,
    "weather": _plain,
    "weather-chat": _plain,
    "idp": _idp,
}


def _blame_upstream(report: list[ServiceHealth]) -> list[ServiceHealth]:
    """A gateway or agent that is down only because the model server is says so first."""
    by_name = {s.name: s for s in report}
    serve, gateway = by_name.get("serve"), by_name.get("gateway")
    out = []
    for service in report:
        if (
            service.name == "gateway"
            and not service.healthy
            and serve is not None
            and service.detail.startswith("running")
        ):
            cause = (
                "the model server is down or restarting"
                if not serve.healthy
                else "the model server is back; the gateway resumes when its cool-down ends"
            )
            service = ServiceHealth(service.name, service.url, service.status, f"{cause} — {service.detail}")
        elif (
            service.name == "agent"
            and not service.healthy
            and service.detail.startswith("cannot answer")
            and gateway is not None
            and not gateway.healthy
        ):
            upstream = "model server" if serve is not None and not serve.healthy else "gateway"
            service = ServiceHealth(
                service.name, service.url, service.status, f"waiting for the {upstream} — {service.detail}"
            )
        out.append(service)
    return out


def web_search_note(config: StackConfig, get: Getter = http_get) -> str | None:
    """Why web search cannot help an answer right now, or None when it can (or is not part of the stack)."""
    if not config.stack.web_search:
        return "web search is off (stack.web_search: false): answers come from the knowledge base only"
    status, detail = _web_search(get(config.url("web_search", "/health")))
    if status == OK:
        return None
    return f"web search is unavailable ({detail}); answers come from the knowledge base only"
