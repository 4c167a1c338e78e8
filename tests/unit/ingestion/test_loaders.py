"""Loaders for every supported type, with tiny fixtures generated in the test (PDF via pypdf, DOCX via python-docx)."""

from __future__ import annotations

import json
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from inferstack.retrieval.ingestion.loaders import LoaderError, load


def _pdf_with_pages(path: Path, pages: list[str]) -> None:
    """A minimal valid PDF with one line of Helvetica text per page ('' gives a page with no text)."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for text in pages:
        page = writer.add_blank_page(width=300, height=200)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        stream = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream.set_data(f"BT /F1 12 Tf 20 100 Td ({escaped}) Tj ET".encode() if text else b"")
        page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as handle:
        writer.write(handle)


def test_markdown_and_text_are_one_document(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\r\n\r\nBody text.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("\ufeffplain", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("  \n", encoding="utf-8")
    [md] = load(tmp_path / "a.md", "a.md")
    assert md.text == "# Title\n\nBody text."
    assert md.metadata == {"source": "a.md", "type": "markdown"}
    assert [d.text for d in load(tmp_path / "b.txt", "b.txt")] == ["plain"]
    assert load(tmp_path / "blank.txt", "blank.txt") == []


def test_qa_csv_becomes_one_document_per_row_with_row_index(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text(
        'Question,CONTEXT,extra\nWhat is X?,"X is a letter, of course.",ignored\n\n,only context,\nQ2?,,\n,,\n',
        encoding="utf-8",
    )
    documents = load(path, "sub/qa.csv")
    assert [d.text for d in documents] == [
        "Question: What is X?\nContext: X is a letter, of course.",
        "Context: only context",
        "Question: Q2?",
    ]
    assert [d.metadata for d in documents] == [{"source": "sub/qa.csv", "row_index": i, "type": "qa"} for i in range(3)]
    assert documents[0].heading == "Question: What is X?"
    assert [d.position for d in documents] == [0, 1, 2]


def test_other_csv_rows_become_column_value_lines(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name;city;note\nAda;London;\nAlan;Wilmslow;codebreaker;extra\n", encoding="utf-8")
    documents = load(path, "people.csv")
    assert [d.text for d in documents] == [
        "name: Ada\ncity: London",
        "name: Alan\ncity: Wilmslow\nnote: codebreaker\ncolumn_4: extra",
    ]
    assert documents[1].metadata == {"source": "people.csv", "row_index": 1, "type": "row"}


def test_json_arrays_objects_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps([{"question": "Why?", "Context": "Because."}, {"title": "T", "tags": ["a", "b"]}, "free text", None])
    )
    (tmp_path / "b.json").write_text(json.dumps({"name": "solo", "n": 3}))
    (tmp_path / "c.jsonl").write_text('{"q": 1}\n\n"line two"\n')
    a = load(tmp_path / "a.json", "a.json")
    assert [d.text for d in a] == ["Question: Why?\nContext: Because.", 'title: T\ntags: ["a", "b"]', "free text"]
    assert [d.metadata["type"] for d in a] == ["qa", "record", "record"]
    assert [d.text for d in load(tmp_path / "b.json", "b.json")] == ["name: solo\nn: 3"]
    assert [(d.text, d.position) for d in load(tmp_path / "c.jsonl", "c.jsonl")] == [("q: 1", 0), ("line two", 1)]


def test_pdf_gives_one_document_per_page_with_text(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    _pdf_with_pages(path, ["Photosynthesis makes sugar.", "", "Mitochondria make ATP."])
    documents = load(path, "doc.pdf")
    assert [d.text for d in documents] == ["Photosynthesis makes sugar.", "Mitochondria make ATP."]
    assert [d.metadata["page"] for d in documents] == [1, 3]
    assert [d.position for d in documents] == [0, 2]


def test_docx_keeps_paragraphs_and_tables_in_order(tmp_path: Path) -> None:
    path = tmp_path / "doc.docx"
    document = docx.Document()
    document.add_heading("Policy", level=1)
    document.add_paragraph("First paragraph.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "key", "value"
    table.cell(1, 0).text, table.cell(1, 1).text = "ttl", "300"
    document.add_paragraph("After the table.")
    document.save(str(path))
    [loaded] = load(path, "doc.docx")
    assert loaded.text == "Policy\nFirst paragraph.\nkey | value\nttl | 300\nAfter the table."
    assert loaded.metadata == {"source": "doc.docx", "type": "docx"}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad.txt", b"caf\xe9", "not UTF-8"),
        ("bad.json", b"{nope", "invalid JSON"),
        ("bad.jsonl", b'{"a": 1}\n{oops\n', "line 2"),
        ("bad.pdf", b"%PDF-1.4 not really", "unreadable PDF"),
        ("bad.docx", b"not a zip", "unreadable DOCX"),
        ("bad.xyz", b"whatever", "unsupported file type"),
    ],
)
def test_unreadable_files_raise_loader_error_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoaderError) as info:
        load(path, name)
    assert reason in info.value.message
