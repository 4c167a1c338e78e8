"""Evidence: the sentences, table rows and record lines of retrieved passages that best match a question.

A passage is split into units: prose sentences, Markdown table rows (rendered with their header cells,
`Specification: Battery; Kestrel K210: 5,900 mAh`), and a CSV record as a whole (`supplier: NaviCore; …`).
Each unit is scored by the question's key terms it holds, weighted by how rare each term is in the knowledge
base (BM25 idf), with half credit for terms in what its document says it is about: the source's name and the
headings of its retrieved passages (the title, the product a table is about). Identifiers in the question (part
numbers, codes, versions, years) must appear in the unit's document. The unit's span in the passage text is
kept, so a citation points at text the answer was built from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from inferstack.retrieval.lexical.tokens import is_identifier, key_terms, terms
from inferstack.retrieval.stores.base import SearchHit

CONTEXT_CREDIT = 0.5  # a term found in the unit's passage or source name, not in the unit itself
MAX_UNIT_CHARS = 600
# A sentence ends at . ! ? followed by whitespace (not inside 3.6.0 or 2,390), or at the end of the text.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+\S)|$")
_QUESTION_LABEL = re.compile(r"^\s*Question\s*:\s*")
_CONTEXT_LABEL = re.compile(r"^\s*Context\s*:\s*")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")

IdfFunction = Callable[[str], float]


@dataclass(frozen=True)
class Unit:
    text: str  # as shown in an answer (a table row with its header cells)
    start: int  # span in the passage's text
    end: int


@dataclass(frozen=True)
class Evidence:
    """One unit of one retrieved passage, scored against the question."""

    chunk_id: str
    source: str
    passage_rank: int  # 1-based rank of its passage among the retrieved ones
    text: str
    start: int
    end: int
    score: float  # weighted share of the question's key terms, in [0, 1]
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    identifiers_present: bool
    asks: str = ""  # the question a question/context record says it answers ("" for other documents)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "chunk_id": self.chunk_id,
            "passage_rank": self.passage_rank,
            "text": self.text,
            "span": [self.start, self.end],
            "score": round(self.score, 4),
            "matched_terms": list(self.matched),
            "missing_terms": list(self.missing),
        }


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table_units(text: str, lines: list[tuple[int, str]]) -> list[Unit]:
    units: list[Unit] = []
    header: list[str] | None = None
    for index, (offset, line) in enumerate(lines):
        if _TABLE_SEPARATOR.match(line):
            continue
        following = lines[index + 1][1] if index + 1 < len(lines) else ""
        if header is None and _TABLE_SEPARATOR.match(following):
            header = _cells(line)
            continue
        cells = _cells(line)
        if header and len(header) == len(cells):
            shown = "; ".join(f"{name}: {value}" for name, value in zip(header, cells, strict=True) if value)
        else:
            shown = " | ".join(cell for cell in cells if cell)
        units.append(Unit(shown, offset, offset + len(line)))
    return units


def _sentences(paragraph: str, offset: int) -> list[Unit]:
    """Sentences of a paragraph (wrapped lines joined); a full stop inside a number or code does not end one."""
    units: list[Unit] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        end = match.end()
        piece = paragraph[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            units.append(Unit(" ".join(piece.split()), offset + start + lead, offset + end))
        start = end
    return [unit for unit in units if len(terms(unit.text)) >= 2]


def split_units(text: str, *, record: bool = False) -> list[Unit]:
    """The units of a passage; `record`: the passage is one CSV record (`name: value` lines), one unit."""
    if record:
        shown = "; ".join(line.strip() for line in text.splitlines() if line.strip())
        return [Unit(shown, 0, len(text))] if shown else []
    units: list[Unit] = []
    table: list[tuple[int, str]] = []
    paragraph: list[tuple[int, str]] = []

    def flush() -> None:
        if table:
            units.extend(_table_units(text, table))
            table.clear()
        if paragraph:
            first = paragraph[0][0]
            last_offset, last_line = paragraph[-1]
            units.extend(_sentences(text[first : last_offset + len(last_line)], first))
            paragraph.clear()

    offset = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("|"):
            if paragraph:
                flush()
            table.append((offset, line))
        elif not stripped or _is_heading(stripped) or _LIST_ITEM.match(line):
            flush()
            if stripped and not _is_heading(stripped):
                paragraph.append((offset, line))
        else:
            if table:
                flush()
            label = _CONTEXT_LABEL.match(line)
            if label is not None:  # a question/context record's "Context:" label is not part of the text
                flush()
                paragraph.append((offset + label.end(), line[label.end() :]))
            else:
                paragraph.append((offset, line))
        offset += len(line) + 1
    flush()
    return units


def _source_terms(source: str) -> set[str]:
    stem = PurePosixPath(source).stem
    return set(terms(re.sub(r"[_]+", " ", stem)))


def _record_question(text: str) -> str:
    first = text.lstrip().split("\n", 1)[0]
    match = _QUESTION_LABEL.match(first)
    return first[match.end() :].strip() if match else ""


def _is_heading(line: str) -> bool:
    """A Markdown heading, or the `Question:` line heading a question/context record (the loaders' CSV form)."""
    return line.startswith("#") or _QUESTION_LABEL.match(line) is not None


def _headings(text: str) -> str:
    lines = (line.strip() for line in text.splitlines())
    return " ".join(_QUESTION_LABEL.sub("", line.lstrip("# ")) for line in lines if _is_heading(line))


def select_evidence(question: str, hits: Sequence[SearchHit], idf: IdfFunction, *, limit: int = 3) -> list[Evidence]:
    """The best units of `hits` for `question`, best first (ties: the better-ranked passage first); units sharing
    no key term with the question are left out."""
    wanted = key_terms(question)
    if not wanted:
        return []
    weights = {term: max(idf(term), 0.05) for term in wanted}
    total = sum(weights.values())
    identifiers = [term for term in wanted if is_identifier(term)]
    found: list[Evidence] = []
    # An identifier may sit in another retrieved passage of the same document (its title, the first chunk).
    by_source: dict[str, set[str]] = {}
    titles: dict[str, set[str]] = {}
    for hit in hits:
        by_source.setdefault(hit.source, set()).update(terms(hit.text))
        titles.setdefault(hit.source, _source_terms(hit.source)).update(terms(_headings(hit.text)))
    for rank, hit in enumerate(hits, start=1):
        # Context credit comes from what the document says it is about (its name and headings), not from any
        # other sentence of the passage: a table row does not answer "warranty" because the sheet mentions it.
        title_terms = titles[hit.source]
        ids_ok = all(term in by_source[hit.source] or term in title_terms for term in identifiers)
        record = hit.metadata.get("type") == "row"
        asks = _record_question(hit.text) if hit.metadata.get("type") == "qa" else ""
        for unit in split_units(hit.text, record=record):
            unit_terms = set(terms(unit.text))
            credit = 0.0
            matched: list[str] = []
            missing: list[str] = []
            for term in wanted:
                if term in unit_terms:
                    credit += weights[term]
                    matched.append(term)
                elif term in title_terms:
                    credit += CONTEXT_CREDIT * weights[term]
                    matched.append(term)
                else:
                    missing.append(term)
            if not matched:
                continue  # shares no term with the question: not evidence of anything
            text = unit.text if len(unit.text) <= MAX_UNIT_CHARS else unit.text[: MAX_UNIT_CHARS - 1] + "…"
            found.append(
                Evidence(
                    chunk_id=hit.id,
                    source=hit.source,
                    passage_rank=rank,
                    text=text,
                    start=unit.start,
                    end=unit.end,
                    score=credit / total,
                    matched=tuple(matched),
                    missing=tuple(missing),
                    identifiers_present=ids_ok,
                    asks=asks,
                )
            )
    found.sort(key=lambda e: (not e.identifiers_present, -e.score, e.passage_rank, e.start))
    return found[:limit]


def leading_units(hit: SearchHit, count: int = 1) -> tuple[Evidence, ...]:
    """The first units of a passage, unscored: the evidence of a record that answers as a whole."""
    return tuple(
        Evidence(hit.id, hit.source, 1, unit.text, unit.start, unit.end, 0.0, (), (), True)
        for unit in split_units(hit.text, record=hit.metadata.get("type") == "row")[:count]
    )
