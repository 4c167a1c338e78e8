"""`inferstack idp review` on a database file (no service): list, approve, reject, and the errors' exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from inferstack.cli.main import app
from inferstack.idp.store import JobStore

runner = CliRunner()


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "idp.sqlite3"
    store = JobStore.sqlite(path)
    for job_id, status in (("doc-a", "needs_review"), ("doc-b", "needs_review"), ("doc-c", "auto_approved")):
        store.create(job_id, "birth_certificate", f"{job_id}.png")
        checks = [{"name": "place_of_birth.facility_registry", "passed": False}]
        store.update(job_id, status, 0.2, {"data": {}, "checks": checks})
    store.close()
    return path


def test_review_on_the_database_file(tmp_path: Path) -> None:
    database = str(_database(tmp_path))
    listed = runner.invoke(app, ["idp", "review", "list", "--database", database])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"doc-{x}  birth_certificate  doc-{x}.png  confidence 0.200  failed: ['place_of_birth.facility_registry']"
        for x in ("a", "b")
    ]
    approved = runner.invoke(app, ["idp", "review", "approve", "doc-a", "--note", "ok", "--database", database])
    assert approved.exit_code == 0 and approved.output.strip() == "doc-a  approved"
    rejected = runner.invoke(app, ["idp", "review", "reject", "doc-b", "--database", database])
    assert rejected.exit_code == 0 and rejected.output.strip() == "doc-b  rejected"
    again = runner.invoke(app, ["idp", "review", "reject", "doc-c", "--database", database])
    assert again.exit_code == 1 and "is auto_approved, not waiting for review" in again.output
    assert runner.invoke(app, ["idp", "review", "list", "--database", database]).output == ""


def test_review_through_a_service_that_cannot_be_reached(tmp_path: Path) -> None:
    result = runner.invoke(app, ["idp", "review", "list", "--url", "http://127.0.0.1:1", "--api-key", "sk-secret"])
    assert result.exit_code == 1
    assert "cannot reach the idp service at http://127.0.0.1:1" in result.output and "sk-secret" not in result.output
