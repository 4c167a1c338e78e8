"""Settings of `inferstack agent` (YAML section `agent`, env prefix `INFERSTACK_AGENT_`, nested with `__`).

The knowledge store and embedding model are configured in the `knowledge` section, owned by ingestion; this
section covers the API, the chat model, orchestration thresholds, sessions and the MCP servers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings

AgentMode = Literal["supervisor", "agentic"]


class RelevanceSettings(BaseModel):
    """How retrieved chunks are graded before the supervisor trusts them."""

    model_config = ConfigDict(extra="forbid")

    # Calibrated on the sample knowledge base with all-MiniLM-L6-v2: 95% of labelled questions score >= 0.37 on
    # their best chunk, unrelated questions mostly 0.12-0.25 (docs/agent.md has the figures).
    threshold: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description="Relevance at or above which the knowledge base answers on its own.",
    )
    hybrid_threshold: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Relevance at or above which a below-threshold answer mixes knowledge with web results.",
    )
    judge: Literal["off", "llm"] = Field(
        default="off",
        description="'llm' adds a context-precision judgement by the chat model (needs a capable model).",
    )
    judge_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Weight of the judge's precision in the combined score."
    )
    judge_chunks: int = Field(default=3, ge=1, le=10, description="How many top chunks the judge reads.")
    # Tuned on the dev split of the packaged evaluation set (docs/agent.md, "Answerability"): at 0.55 every
    # unanswerable dev question went to not-found and 97% of the answerable ones were answered.
    answerability: Literal["evidence", "off"] = Field(
        default="evidence",
        description="'evidence': answer from the knowledge base only when a passage holds evidence for the "
        "question (key-term coverage + sentence similarity); 'off': similarity alone decides.",
    )
    min_answer_score: float = Field(
        default=0.55, ge=0.0, le=1.0, description="Evidence score at or above which a question counts as answerable."
    )
    evidence_cosine_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Weight of sentence similarity (vs. key-term coverage) in it."
    )

    @model_validator(mode="after")
    def _ordered(self) -> RelevanceSettings:
        if self.hybrid_threshold > self.threshold:
            raise ValueError("hybrid_threshold must not exceed threshold")
        return self


class RetrievalSettings(BaseModel):
    """How passages are found: dense (embeddings), lexical (BM25) or both fused by reciprocal rank."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["hybrid", "dense", "lexical"] = Field(
        default="hybrid", description="'hybrid' fuses dense and BM25 rankings; a store without BM25 is dense only."
    )
    candidates: int = Field(default=20, ge=1, le=200, description="Depth of each ranking before fusion.")
    rrf_k: int = Field(default=60, ge=0, le=1000, description="Reciprocal rank fusion constant.")
    # Swept on the dev split and the packaged sample (docs/agent.md, "Retrieval"): 1.5 gave the best mean MRR.
    lexical_weight: float = Field(default=1.5, ge=0.0, le=10.0, description="Weight of the BM25 ranking in fusion.")


class TimeoutSettings(BaseModel):
    """Seconds each dependency may take before the call counts as failed."""

    model_config = ConfigDict(extra="forbid")

    model_s: float = Field(default=60.0, gt=0, description="One chat completion through the gateway.")
    tool_s: float = Field(default=20.0, gt=0, description="One MCP tool call.")
    health_s: float = Field(default=2.0, gt=0, description="One dependency probe of GET /health.")
    query_s: float = Field(default=120.0, gt=0, description="A whole /query request.")


class SessionStoreSettings(BaseModel):
    """Where conversation sessions live (docs/agent.md, Running several replicas)."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="memory: this process only; redis: shared by every agent replica, so a follow-up question "
        "may land on any of them.",
    )
    redis_url: SecretStr | None = Field(default=None, description="redis://… (required for the redis backend).")
    ttl_s: float = Field(default=86400.0, gt=0, description="A session is forgotten this long after its last use.")
    namespace: str = Field(default="inferstack", description="Prefix of the Redis keys (several stacks, one Redis).")

    @model_validator(mode="after")
    def _url_for_redis(self) -> SessionStoreSettings:
        if self.backend == "redis" and self.redis_url is None:
            raise ValueError("session_store.redis_url is required when session_store.backend is redis")
        return self


class AgentSettings(LayeredSettings):
    model_config = SettingsConfigDict(env_prefix="INFERSTACK_AGENT_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    model_base_url: str = Field(
        default="http://127.0.0.1:4000/v1", description="OpenAI-compatible base URL (the gateway)."
    )
    model: str = Field(default="smollm2-135m-instruct", description="Chat model id at model_base_url.")
    api_key: SecretStr | None = Field(default=None, description="Key the agent sends upstream (the gateway's).")
    server_api_key: SecretStr | None = Field(default=None, description="Bearer key clients must send, if set.")
    mode: AgentMode = Field(
        default="supervisor",
        description="'supervisor': orchestration enforced in code; 'agentic': the model drives the tools.",
    )
    top_k: int = Field(default=5, ge=1, le=20)
    # SmolLM2-135M rambles to whatever cap it is given; at ~30-60 tokens/s on 2 shared cores, 128 keeps the
    # median answer near 1.5 s (benchmarks/agent_query.py). Raise it for a capable model.
    max_tokens: int = Field(default=128, ge=1, le=8192, description="Cap on each answer's completion tokens.")
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    stop: list[str] = Field(
        default_factory=lambda: ["\n\n"],
        max_length=4,
        description="Stop sequences of the answer; the blank line ends the small default model's first paragraph, "
        "before it starts repeating itself. Set [] for a model that writes longer answers well.",
    )
    max_context_chars: int = Field(
        default=400, ge=50, description="Each retrieved chunk or web result is cut to this many characters."
    )
    # Prompt processing of SmolLM2 runs at ~150-300 tokens/s on 2 shared cores: ~1200 characters (~300 tokens)
    # of passages keeps it near one second. Passages past the budget stay in `sources` with in_prompt false.
    context_chars: int = Field(
        default=1200, ge=50, description="All passages of one answer's prompt together (the first always fits)."
    )
    history_chars: int = Field(
        default=1000, ge=0, description="Earlier questions and answers of the session put in the prompt, at most."
    )
    relevance: RelevanceSettings = Field(default_factory=RelevanceSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer_style: Literal["extractive", "generative"] = Field(
        default="extractive",
        description="'extractive': the answer is the evidence sentence(s) as written, cited (precise, no model "
        "call); 'generative': the chat model writes the answer from the passages (for a capable model).",
    )
    time_sensitive_terms: list[str] = Field(
        default_factory=list, description="Extra words or phrases that send a question to web search."
    )
    session_turns: int = Field(default=4, ge=0, le=100, description="Question/answer pairs kept per session.")
    max_sessions: int = Field(
        default=1000, ge=1, description="Sessions kept in memory; the least recently used goes first."
    )
    session_store: SessionStoreSettings = Field(default_factory=SessionStoreSettings)
    agentic_max_turns: int = Field(default=6, ge=1, le=50, description="Model calls per query in agentic mode.")
    web_search_url: str = Field(default="http://127.0.0.1:8001/mcp", description="Web-search MCP; empty disables.")
    filesystem_url: str = Field(default="http://127.0.0.1:8002/mcp", description="Filesystem MCP; empty disables.")
    weather_url: str = Field(default="", description="Weather MCP (weather questions go to it); empty disables.")
    report_max_iterations: int = Field(default=4, ge=1, le=50, description="Tool rounds of one POST /v1/reports.")
    report_time_limit_s: float = Field(default=120.0, gt=0, le=3600, description="Wall-clock cap of one report.")
    output_dir: Path = Field(default=Path("output"), description="Where file_write may write (the filesystem root).")
    ingest_roots: list[Path] = Field(
        default_factory=list,
        description="Directories POST /ingest may read; empty: <knowledge.data_dir>/documents and the sample "
        "(`inferstack up` sets the directory it starts in plus stack.knowledge).",
    )
    embed_path: Path | None = Field(
        default=None,
        description="Folder POST /embed (the reference app's call) ingests; unset: <knowledge.data_dir>/documents "
        "if it exists, else the sample (`inferstack up` sets stack.knowledge).",
    )
    owner_key: SecretStr | None = Field(
        default=None,
        description="Key in the X-Inferstack-Owner-Key header that lets POST /ingest read any folder; "
        "`inferstack up` sets it from <data_dir>/owner.key for the CLI of the user who owns the stack.",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_ingest_jobs: int = Field(default=100, ge=1, description="Finished ingest jobs remembered for GET.")
    model_max_retries: int = Field(default=1, ge=0, le=5)
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    log_level: str = "INFO"
