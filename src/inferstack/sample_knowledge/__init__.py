"""Sample knowledge base shipped with inferstack: topic CSVs (question, context) and a labelled eval set.

Only locates the packaged files; parsing and ingestion belong to `inferstack.retrieval.ingestion`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def documents_dir() -> Path:
    """Directory holding one `<topic>.csv` per topic, each with exactly the columns `question,context`."""
    return _PACKAGE_DIR / "documents"


def eval_questions_path() -> Path:
    """JSONL file of paraphrased questions labelled with `source` (CSV file name) and `row_index` (0-based row)."""
    return _PACKAGE_DIR / "eval" / "questions.jsonl"
