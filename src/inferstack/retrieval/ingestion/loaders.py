"""File loaders by suffix: each turns one file into `Document`s (text + metadata), or raises `LoaderError`.

    .md .markdown .txt   the whole file, one document
    .csv                 one document per row: `Question: …\\nContext: …` when the header has question and
                         context columns (any case), else `column: value` lines
    .json .jsonl         one document per array element / line (question/context objects as for CSV)
    .pdf                 one document per page with text (pypdf)
    .docx                paragraphs and tables in order, one document (python-docx)

Nothing is guessed: a file that is not valid UTF-8, not parseable, or encrypted fails with a reason.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.core.errors import InvalidRequestError


class LoaderError(InvalidRequestError):
    """A file could not be read as its type says; the file is skipped and reported, the run goes on."""

    default_code = "unreadable_file"


@dataclass(frozen=True)
class Document:
    """One unit of a file. `position` (row, page, element) is part of every chunk id, so it must be stable.

    `heading`, when set, is repeated at the start of each later chunk of a long document so every chunk
    still says what it is about (a CSV row's question, for instance).
    """

    text: str
    position: int
    metadata: Mapping[str, Any] = field(default_factory=dict)
    heading: str | None = None


Loader = Callable[[Path, str], list[Document]]
_CSV_DELIMITERS = ",;\t|"
_QA_FIELDS = ("question", "context")


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoaderError(f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_text(path: Path, source: str) -> list[Document]:
    text = read_text(path).strip()
    kind = "markdown" if path.suffix.lower() in (".md", ".markdown") else "text"
    return [Document(text=text, position=0, metadata={"source": source, "type": kind})] if text else []


def load_csv(path: Path, source: str) -> list[Document]:
    text = read_text(path)
    if not text.strip():
        return []
    _allow_large_csv_fields()
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    try:
        header = [name.strip() for name in next(rows)]
        records = [row for row in rows if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise LoaderError(f"malformed CSV: {exc}") from None
    columns = [name or f"column_{i + 1}" for i, name in enumerate(header)]
    lowered = [name.lower() for name in columns]
    if all(name in lowered for name in _QA_FIELDS):
        question, context = lowered.index("question"), lowered.index("context")
        return [
            document
            for row_index, row in enumerate(records)
            if (document := _qa_document(_cell(row, question), _cell(row, context), row_index, source)) is not None
        ]
    documents = []
    for row_index, row in enumerate(records):
        names = columns + [f"column_{i + 1}" for i in range(len(columns), len(row))]
        lines = [f"{name}: {value.strip()}" for name, value in zip(names, row, strict=False) if value.strip()]
        documents.append(
            Document(
                text="\n".join(lines),
                position=row_index,
                metadata={"source": source, "row_index": row_index, "type": "row"},
            )
        )
    return documents


def load_json(path: Path, source: str) -> list[Document]:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise LoaderError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    items = data if isinstance(data, list) else [data]
    return _json_documents(items, source)


def load_jsonl(path: Path, source: str) -> list[Document]:
    items = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise LoaderError(f"invalid JSON on line {number}: {exc.msg}") from None
    return _json_documents(items, source)


def load_pdf(path: Path, source: str) -> list[Document]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError("encrypted PDF (needs a password)")
        documents = []
        for index, page in enumerate(reader.pages):
            text = (page.extract_text() or "").strip()
            if text:
                documents.append(
                    Document(text=text, position=index, metadata={"source": source, "page": index + 1, "type": "pdf"})
                )
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        raise LoaderError(f"unreadable PDF: {type(exc).__name__}: {exc}") from None
    return documents


def load_docx(path: Path, source: str) -> list[Document]:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        blocks: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                blocks.extend(" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows)
            elif block.text.strip():
                blocks.append(block.text.strip())
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(f"unreadable DOCX: {type(exc).__name__}") from None
    text = "\n".join(blocks).strip()
    return [Document(text=text, position=0, metadata={"source": source, "type": "docx"})] if text else []


LOADERS: dict[str, Loader] = {
    ".md": load_text,
    ".markdown": load_text,
    ".txt": load_text,
    ".csv": load_csv,
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def loader_for(path: Path) -> Loader | None:
    return LOADERS.get(path.suffix.lower())


def load(path: Path, source: str) -> list[Document]:
    """The documents of `path` (named `source` in metadata); `LoaderError` for unsupported or unreadable files."""
    loader = loader_for(path)
    if loader is None:
        raise LoaderError(f"unsupported file type '{path.suffix}'")
    return loader(path, source)


def _qa_document(question: str, context: str, row_index: int, source: str) -> Document | None:
    if not question and not context:
        return None
    metadata = {"source": source, "row_index": row_index, "type": "qa"}
    if not question:
        return Document(text=f"Context: {context}", position=row_index, metadata=metadata)
    heading = f"Question: {question}"
    text = f"{heading}\nContext: {context}" if context else heading
    return Document(text=text, position=row_index, metadata=metadata, heading=heading)


def _delimiter(header_line: str) -> str:
    """The candidate delimiter the header line uses most (comma when it has none): predictable, unlike sniffing."""
    counts = {candidate: header_line.count(candidate) for candidate in _CSV_DELIMITERS}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _json_documents(items: Iterable[Any], source: str) -> list[Document]:
    documents = []
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            lowered = {str(key).lower(): value for key, value in item.items()}
            if all(name in lowered for name in _QA_FIELDS):
                qa = _qa_document(_scalar(lowered["question"]), _scalar(lowered["context"]), index, source)
                if qa is not None:
                    documents.append(qa)
                continue
            text = "\n".join(f"{key}: {_scalar(value)}" for key, value in item.items() if _scalar(value))
        else:
            text = _scalar(item)
        if text:
            documents.append(
                Document(text=text, position=index, metadata={"source": source, "row_index": index, "type": "record"})
            )
    return documents


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


def _allow_large_csv_fields() -> None:
    # Long contexts exceed csv's default 128 KiB field limit; raise it (process-wide, so only ever upward).
    wanted = min(sys.maxsize, 64 * 1024 * 1024)
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(wanted)
