"""Evidence units of retrieved passages and the answerability grade built on them."""

from __future__ import annotations

from collections.abc import Sequence

from inferstack.agents.answer_prompt import answer_evidence, extractive_answer, seen_evidence
from inferstack.agents.answerability import AnswerabilityGrader
from inferstack.agents.evidence import select_evidence, split_units
from inferstack.retrieval.embedders.fake import FakeEmbedder
from inferstack.retrieval.lexical.bm25 import Bm25Index, LexicalDoc
from inferstack.retrieval.stores.base import SearchHit

PROSE = (
    "# Post-incident review INC-20931\n\n"
    "At 09:41 UTC a certificate rotation replaced the certificate. The new\n"
    "chain was missing its intermediate, so drones older than firmware 3.6.0 refused\n"
    "the connection. The outage lasted 3 hours and 12 minutes.\n"
)
TABLE = (
    "# Kestrel K210 product sheet\n\n"
    "| Specification | Kestrel K210 |\n|---|---|\n"
    "| Maximum flight time | 41 minutes |\n| List price | 3,150 EUR |\n"
)
RECORD = "part_number: PN-44720\ndescription: GPS module with compass\nsupplier: NaviCore"
HITS = [
    SearchHit("inc", PROSE, "incident_INC-20931.md", 0.5),
    SearchHit("k210", TABLE, "kestrel_k210.md", 0.5),
    SearchHit("pn", RECORD, "parts_catalog.csv", 0.5, {"type": "row"}),
]


def idf_of(hits: Sequence[SearchHit]) -> Bm25Index:
    index = Bm25Index()
    index.add(LexicalDoc(hit.id, hit.text, hit.source) for hit in hits)
    return index


def test_units_are_sentences_across_wrapped_lines_table_rows_with_headers_and_whole_records() -> None:
    units = split_units(PROSE)
    assert [unit.text for unit in units] == [
        "At 09:41 UTC a certificate rotation replaced the certificate.",
        "The new chain was missing its intermediate, so drones older than firmware 3.6.0 refused the connection.",
        "The outage lasted 3 hours and 12 minutes.",
    ]
    # A unit's span points at the passage text it came from.
    assert PROSE[units[2].start : units[2].end] == "The outage lasted 3 hours and 12 minutes."
    rows = split_units(TABLE)
    assert [row.text for row in rows] == [
        "Specification: Maximum flight time; Kestrel K210: 41 minutes",
        "Specification: List price; Kestrel K210: 3,150 EUR",
    ]
    assert TABLE[rows[0].start : rows[0].end] == "| Maximum flight time | 41 minutes |"
    # A question/context record (the loaders' form of a question,context CSV row): its labels are not evidence.
    qa = "Question: How far is the Sun?\nContext: It is 149.6 million km away. Light takes 8 minutes."
    assert [(u.text, qa[u.start : u.end]) for u in split_units(qa)] == [
        ("It is 149.6 million km away.", "It is 149.6 million km away."),
        ("Light takes 8 minutes.", "Light takes 8 minutes."),
    ]
    record = split_units(RECORD, record=True)
    assert [unit.text for unit in record] == [
        "part_number: PN-44720; description: GPS module with compass; supplier: NaviCore"
    ]


def test_the_best_unit_holds_the_questions_terms_and_names_its_identifiers() -> None:
    idf = idf_of(HITS).idf
    best = select_evidence("How long did the outage INC-20931 last?", HITS, idf)[0]
    assert best.text == "The outage lasted 3 hours and 12 minutes." and best.source == "incident_INC-20931.md"
    assert best.identifiers_present  # the code is in the document's title and name, not in the sentence
    flight = select_evidence("What is the maximum flight time of the K210?", HITS, idf)[0]
    assert "41 minutes" in flight.text
    assert select_evidence("Who supplies PN-44720?", HITS, idf)[0].chunk_id == "pn"
    missing = select_evidence("Who supplies PN-99999?", HITS, idf)
    assert not any(unit.identifiers_present for unit in missing)
    assert select_evidence("the a of", HITS, idf) == []  # nothing to look for


async def test_answerability_tells_an_answer_from_a_related_passage() -> None:
    grader = AnswerabilityGrader(FakeEmbedder(64), min_score=0.55)
    idf = idf_of(HITS).idf
    answerable = await grader.grade("What is the list price of the Kestrel K210?", HITS, idf)
    assert answerable.answerable and answerable.method == "evidence+cosine"
    assert "3,150 EUR" in answerable.evidence[0].text
    # Same document, same product, but nothing about a top speed: related, not an answer.
    related = await grader.grade("What is the top speed of the Kestrel K210 in kilometres per hour?", HITS, idf)
    assert not related.answerable and "top" in related.reason
    unknown_id = await grader.grade("Who supplies part PN-99999?", HITS, idf)
    assert not unknown_id.answerable and "pn-99999" in unknown_id.reason
    nothing = await grader.grade("sourdough bread baking", HITS, idf)
    assert not nothing.answerable and nothing.evidence == ()


async def test_answerability_grades_on_terms_alone_when_embedding_fails() -> None:
    grader = AnswerabilityGrader(FakeEmbedder(64, fail_on_call=1), min_score=0.55)
    grade = await grader.grade("What is the list price of the Kestrel K210?", HITS, idf_of(HITS).idf)
    assert grade.method == "evidence" and grade.cosine is None and grade.answerable


def test_extractive_answers_quote_the_evidence_and_cite_its_source() -> None:
    units = select_evidence("How long did the outage INC-20931 last?", HITS, idf_of(HITS).idf)
    chosen = answer_evidence(units, 0.5)
    answer = extractive_answer(chosen[:1])
    assert answer == "The outage lasted 3 hours and 12 minutes. [incident_INC-20931.md]"
    # A generated answer cites only evidence from passages the model was shown.
    assert seen_evidence(units, frozenset({"k210"})) == tuple(u for u in units if u.chunk_id == "k210")
