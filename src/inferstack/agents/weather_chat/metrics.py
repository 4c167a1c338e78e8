"""Prometheus metrics of the weather chat service, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.responses import Response

from inferstack.agents.weather_chat.schemas import ChatAnswer

_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)


class WeatherChatMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "inferstack_weather_chat_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "inferstack_weather_chat_request_duration_seconds", "HTTP latency", ["route"], buckets=_BUCKETS, registry=r
        )
        self.chats = Counter(
            "inferstack_weather_chat_conversations",
            "/chat answers by why the tool loop stopped",
            ["stopped"],
            registry=r,
        )
        self.tool_calls = Counter(
            "inferstack_weather_chat_tool_calls",
            "Tool calls the model made by tool and outcome",
            ["tool", "outcome"],
            registry=r,
        )

    def observe_chat(self, answer: ChatAnswer) -> None:
        self.chats.labels(answer.stopped).inc()
        for call in answer.tool_calls:
            self.tool_calls.labels(call.name, "error" if call.error else "ok").inc()

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
