"""Report tasks (`POST /v1/reports`): answer a question from the knowledge base and write the answer as a Markdown
file through the filesystem MCP server, in a tool loop capped in iterations and wall-clock time.

    retrieve top-k -> tool loop (search_knowledge_base, write_report), at most `max_iterations` rounds and
    `time_limit_s` -> the report file, written by the model's write_report or, when the loop ended without one,
    by the agent from the model's last answer (or the passages themselves)

The file name is checked here (relative, no `..`, `.md`) and confined again by the filesystem server's sandbox.
The reference's report loops had no cap and hard-coded tasks; here both caps are settings and per-request limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict, Field

from inferstack.agents.chat_model import ChatModel, upstream_error
from inferstack.agents.knowledge import KnowledgeBase
from inferstack.agents.output_files import OutputFiles, checked_relative_path
from inferstack.agents.prompt_templates import render
from inferstack.agents.tool_loop import LoopLimits, run_tool_loop
from inferstack.core.errors import InvalidRequestError, OverloadedError, UpstreamError
from inferstack.retrieval.stores.base import SearchHit

PASSAGE_CHARS = 400
MAX_REPORT_CHARS = 20_000

REPORT_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search_knowledge_base",
            "description": "Search the knowledge base for more passages.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to look for."}},
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "write_report",
            "description": "Write the finished report (Markdown) to the report file.",
            "parameters": {
                "type": "object",
                "properties": {"content": {"type": "string", "description": "The whole report in Markdown."}},
                "required": ["content"],
                "additionalProperties": False,
            },
        },
    },
]


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    filename: str = Field(default="report.md", min_length=1, max_length=255)
    top_k: int = Field(default=5, ge=1, le=20)
    max_iterations: int | None = Field(default=None, ge=1, le=50, description="At most the agent's setting.")
    time_limit_s: float | None = Field(default=None, gt=0, le=3600, description="At most the agent's setting.")


@dataclass(frozen=True)
class ReportLimits:
    max_iterations: int
    time_limit_s: float


@dataclass
class _Progress:
    written: dict[str, Any] | None = None
    hits: list[SearchHit] = field(default_factory=list)


def report_markdown(question: str, body: str, hits: list[SearchHit]) -> str:
    sources = "\n".join(f"- {hit.source} (score {hit.score:.2f})" for hit in hits) or "- none"
    text = body.strip()[:MAX_REPORT_CHARS]
    return f"# {question.strip()}\n\n{text}\n\n## Sources\n\n{sources}\n"


def _passages(hits: list[SearchHit]) -> str:
    return "\n\n".join(f"[{i}] ({hit.source}) {hit.text[:PASSAGE_CHARS]}" for i, hit in enumerate(hits, 1))


class ReportWriter:
    def __init__(
        self, *, chat: ChatModel, knowledge: KnowledgeBase, files: OutputFiles | None, limits: ReportLimits
    ) -> None:
        self.chat = chat
        self.knowledge = knowledge
        self.files = files
        self.limits = limits

    async def write(self, body: ReportBody) -> dict[str, Any]:
        if self.files is None:
            raise OverloadedError(
                "report tasks need the filesystem MCP server (agent.filesystem_url is empty)", code="no_filesystem"
            )
        files = self.files
        path = checked_relative_path(body.filename)
        if not path.lower().endswith(".md"):
            raise InvalidRequestError("the report filename must end in .md", param="filename")
        limits = LoopLimits(
            max_rounds=min(body.max_iterations or self.limits.max_iterations, self.limits.max_iterations),
            time_limit_s=min(body.time_limit_s or self.limits.time_limit_s, self.limits.time_limit_s),
        )
        progress = _Progress(hits=await self.knowledge.search([body.question], body.top_k))

        async def run_tool(name: str, arguments: dict[str, Any]) -> Any:
            if name == "search_knowledge_base":
                found = await self.knowledge.search([str(arguments.get("query") or body.question)], body.top_k)
                progress.hits += [hit for hit in found if hit.id not in {h.id for h in progress.hits}]
                return {"passages": _passages(found)}
            if name == "write_report":
                content = str(arguments.get("content") or "")
                if not content.strip():
                    raise InvalidRequestError("write_report needs the report's content")
                progress.written = await files.write(path, report_markdown(body.question, content, progress.hits))
                return {"written": path}
            raise InvalidRequestError(f"there is no tool called {name!r}")

        messages = [
            {"role": "system", "content": render("report_system")},
            {
                "role": "user",
                "content": render("report_user", question=body.question, passages=_passages(progress.hits)),
            },
        ]
        try:
            result = await run_tool_loop(
                self.chat.client,
                model=self.chat.model_id,
                messages=messages,
                tools=REPORT_TOOLS,
                run_tool=run_tool,
                limits=limits,
                first_choice="auto",
                params={"max_tokens": 256, "temperature": 0.2},
            )
        except openai.APIError as exc:
            raise upstream_error(exc, self.chat.base_url) from None
        written_by = "model"
        if progress.written is None:
            written_by = "agent"
            text = result.answer or _passages(progress.hits) or "The knowledge base holds nothing on this question."
            progress.written = await files.write(path, report_markdown(body.question, text, progress.hits))
        written = progress.written
        if not isinstance(written, dict) or "size_bytes" not in written:
            raise UpstreamError("the filesystem MCP server answered write_file without a size")
        return {
            "path": str(written.get("path", path)),
            "bytes": int(written["size_bytes"]),
            "written_by": written_by,
            "iterations": result.rounds,
            "stopped": result.stopped,
            "tool_calls": [
                {"round": c.round, "name": c.name, "error": c.error, "arguments": _short(c.arguments)}
                for c in result.calls
            ],
            "sources": [{"source": hit.source, "score": round(hit.score, 4)} for hit in progress.hits],
        }


def _short(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (value[:200] + "…" if isinstance(value, str) and len(value) > 200 else value)
        for key, value in arguments.items()
    }
