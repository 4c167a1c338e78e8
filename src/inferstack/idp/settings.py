"""Settings of `inferstack idp` (YAML section `idp`, env prefix `INFERSTACK_IDP_`, nested `__`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from inferstack.core.settings import LayeredSettings
from inferstack.idp.store import JobStore, open_store

ReaderName = Literal["ocr", "vision", "both"]
ExtractorName = Literal["hybrid", "model", "rules"]


def default_database() -> Path:
    return Path.home() / ".local" / "share" / "inferstack" / "idp.sqlite3"


class IdpSettings(LayeredSettings):
    model_config = SettingsConfigDict(env_prefix="INFERSTACK_IDP_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8082, ge=0, le=65535)
    model_base_url: str = Field(default="http://127.0.0.1:4000/v1", description="The gateway's OpenAI base URL.")
    model: str = Field(default="smollm2-135m-instruct", description="Model that extracts fields (constrained JSON).")
    vision_model: str | None = Field(default=None, description="Model for the `vision` reader (image_url parts).")
    reflection_model: str | None = Field(
        default=None, description="Model of the optional reflection judge; unset turns the judge off."
    )
    api_key: SecretStr | None = Field(default=None, description="Virtual key sent to the gateway.")
    server_api_key: SecretStr | None = Field(default=None, description="Bearer key clients must send, if set.")
    reader: ReaderName = "ocr"
    extractor: ExtractorName = Field(
        default="hybrid",
        description="'hybrid': label: value lines from OCR fill fields, the constrained model call fills the "
        "rest; 'model': the model alone; 'rules': no model call.",
    )
    threshold: float = Field(default=0.75, ge=0.0, le=1.0, description="Confidence at or above: auto-approved.")
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="Largest accepted document.")
    max_pages: int = Field(default=20, ge=1, le=500)
    max_pixels: int = Field(default=40_000_000, ge=10_000, description="Largest image (width x height) accepted.")
    render_dpi: int = Field(default=200, ge=50, le=600, description="PDF pages without a text layer: render DPI.")
    database: Path = Field(
        default_factory=default_database,
        description="SQLite file of jobs and the review queue; its directory also holds the instance lock files "
        "(`<file>.instance-<n>.lock`, with PostgreSQL too) that let a restart take back its dead run's jobs.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://… keeps jobs and the review queue in PostgreSQL instead of the SQLite `database`.",
    )
    registry: Path | None = Field(default=None, description="Facility registry YAML (default: the bundled one).")
    model_timeout_s: float = Field(default=60.0, gt=0, le=600)
    model_retries: int = Field(default=2, ge=0, le=5, description="Retries of network stages (model calls).")
    max_tokens: int = Field(
        default=600, ge=16, le=8192, description="Cap on a model answer (an invoice's items are long)."
    )
    workers: int = Field(default=1, ge=1, le=16, description="Documents processed at once by the service.")
    max_queued: int = Field(
        default=64, ge=1, le=10_000, description="Jobs waiting in the store (all replicas) before POST answers 503."
    )
    lease_s: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        description="Lease of a claimed job on the database's clock, renewed every third of it while the job "
        "runs; a job whose lease ran out (its process died) is claimed again by any live worker, and a restart of "
        "the same instance takes its dead run's jobs back at once.",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Claims of one job before it ends `failed` (a document that kills "
        "its process each time is not retried forever).",
    )
    poll_s: float = Field(
        default=1.0,
        gt=0.0,
        le=60.0,
        description="How often an idle worker looks in the store for jobs of other replicas and expired leases "
        "(jobs submitted to this process wake it at once).",
    )
    drain_s: float = Field(
        default=20.0,
        ge=0.0,
        le=600.0,
        description="On SIGTERM: how long running jobs may take to finish before they are released to another "
        "process (keep it below the pod's termination grace period).",
    )
    keep_documents: bool = Field(
        default=False,
        description="Keep a document's bytes in the store after its job ended (default: deleted at the end).",
    )
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (leave it unset for the SQLite file `database`)")
        return value

    def open_store(self) -> JobStore:
        """The job store these settings name: PostgreSQL when `database_url` is set, else SQLite."""
        url = self.database_url.get_secret_value() if self.database_url is not None else None
        return open_store(self.database, url)

    @field_validator("model_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")
